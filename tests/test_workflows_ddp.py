"""DDP: torchrun with 2 CPU ranks (gloo) for ``kt.predict`` gathering and balanced epochs.

``kt.predict`` must give every rank the outputs of the whole dataset in ``filenames`` order
(loader/predict.py over ``gather_predictions``), from a shuffled loader with a worker, from a
dataset and from a ``kt.split`` part; a ``max_per_class`` loader must shard its balanced epoch
like every epoch (sampler.py: disjoint shards, padding by the head of the epoch).
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from _subproc import TESTS, repo_env, torchrun
from _trees import indexed_tree
from kdir_torch.loader.balanced import BalancedSampler

COUNTS = {"a": 6, "b": 4, "c": 1}  # 11 samples: uneven over 2 ranks


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    base = tmp_path_factory.mktemp("ddp_workflows")
    root = indexed_tree(base / "root", COUNTS)
    out = base / "out"
    out.mkdir()
    cmd = torchrun(os.path.join(TESTS, "ddp_workflows_worker.py"), root, str(out))
    proc = subprocess.run(cmd, env=repo_env(), capture_output=True, text=True, timeout=150,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
def test_predict_gathers_in_filenames_order_on_every_rank(reports):
    n = sum(COUNTS.values())
    assert [r["replicas"] for r in reports] == [2, 2]
    for r in reports:
        assert r["shuffled"] == [float(i) for i in range(n)]
        assert r["dataset"] == [float(i) for i in range(n)]
        assert r["part"] == [float(i) for i in r["part_indices"]]
    assert reports[0]["part_indices"] == reports[1]["part_indices"]  # same split everywhere


@pytest.mark.slow
def test_balanced_epochs_shard_disjointly(reports):
    classes = np.array(reports[0]["classes"])
    m = 2 + 2 + 1
    assert reports[0]["balanced_len"] == reports[1]["balanced_len"] == 2  # ceil(ceil(5/2)/2)
    for epoch in range(2):
        a, b = reports[0]["balanced"][epoch], reports[1]["balanced"][epoch]
        assert len(a) == len(b) == 3
        interleaved = [i for pair in zip(a, b) for i in pair]
        expected = BalancedSampler(classes, max_per_class=2, seed=5).permutation(epoch)
        assert interleaved[:m] == expected.tolist()  # every rank drew the same epoch
        assert interleaved[m:] == interleaved[:1]  # padded by the head
        assert len(set(a) & set(b)) == 1  # disjoint but for the padding repeat
        assert np.bincount(classes[interleaved[:m]]).tolist() == [2, 2, 1]
    assert reports[0]["balanced"][0] != reports[0]["balanced"][1]
