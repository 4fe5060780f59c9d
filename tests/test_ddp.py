"""DDP: torchrun with 2 CPU ranks (gloo) on a tiny tree.

Checks the sharding policy of ``kdir_torch/loader/sampler.py`` (disjoint shards padded by the
head of the permutation, every sample once per epoch, reshuffle per epoch, ``set_epoch``
replays) and ``gather_predictions`` (whole dataset in ``filenames`` order on every rank, §A4).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from _subproc import TESTS, repo_env, torchrun
from _trees import indexed_tree

N = 11  # odd on purpose: 2 ranks need one padding sample


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    base = tmp_path_factory.mktemp("ddp")
    root = indexed_tree(base / "root", {"a": 5, "b": 4, "c": 2})
    out = base / "out"
    out.mkdir()
    cmd = torchrun(os.path.join(TESTS, "ddp_worker.py"), root, str(out), "17")
    proc = subprocess.run(cmd, env=repo_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
def test_shards_are_disjoint_and_cover_every_sample(reports):
    assert [r["replicas"] for r in reports] == [2, 2]
    assert reports[0]["len"] == reports[1]["len"] == 2  # ceil(ceil(11 / 2) / 3)
    for epoch in range(3):
        a, b = reports[0]["epochs"][epoch], reports[1]["epochs"][epoch]
        assert len(a) == len(b) == 6
        assert len(set(a) & set(b)) == 1  # disjoint but for the one padding repeat
        interleaved = [i for pair in zip(a, b) for i in pair]
        assert sorted(interleaved[:N]) == list(range(N))  # every sample once ...
        assert interleaved[N:] == interleaved[:1]  # ... plus the head of the permutation


@pytest.mark.slow
def test_reshuffle_per_epoch_and_set_epoch_replays(reports):
    for r in reports:
        assert r["epochs"][0] != r["epochs"][1]
        assert r["epochs"][2] == r["epochs"][0]


@pytest.mark.slow
def test_gathered_predictions_in_filenames_order(reports):
    for r in reports:
        for epoch in range(3):
            assert r["gathered"][epoch] == [float(i) for i in range(N)]
            assert r["labels"][epoch] == [float(c) for c in r["classes"]]
