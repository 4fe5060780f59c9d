"""The scripts in ``examples/`` run end to end in ``--quick`` mode (subprocesses, CPU)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys

import pytest

from _subproc import REPO, repo_env, torchrun
from kdir_torch.demo import build_demo_tree

EXAMPLES = os.path.join(REPO, "examples")
ENV = repo_env(KERAS_BACKEND="torch")
ACCURACY = re.compile(r"^validation accuracy: (\d\.\d{3})", re.MULTILINE)


def _run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, env=ENV, cwd=REPO, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_keras_port_quick():
    out = _run([sys.executable, os.path.join(EXAMPLES, "keras_port.py"), "--quick"])
    assert "data_format=channels_last" in out
    assert re.search(r"^epoch 2/2: loss \d", out, re.MULTILINE)
    assert 0.0 <= float(ACCURACY.search(out).group(1)) <= 1.0
    assert re.search(r"^  Class_1/\d\d\.png -> Class_\d+$", out, re.MULTILINE)  # filenames -> classes


def test_train_gpu_quick_falls_back_to_cpu():
    out = _run([sys.executable, os.path.join(EXAMPLES, "train_gpu.py"), "--quick",
                "--device", "cpu", "--workers", "2"])
    assert re.search(r"^device: cpu \(CPU\), autocast bfloat16, 2 worker\(s\)$", out, re.MULTILINE)
    assert ACCURACY.search(out)
    assert "done in" in out and out.rstrip().endswith("on cpu")


@pytest.mark.slow
def test_ddp_torchrun_quick(tmp_path):
    import kdir_torch as kt

    root = build_demo_tree(str(tmp_path / "tree"), classes=3, per_class=12, size=32)
    path = tmp_path / "preds.csv"
    out = _run(torchrun(os.path.join(EXAMPLES, "ddp_torchrun.py"), "--quick", "--data", root,
                        "--csv", str(path)))
    assert "backend: gloo, world size 2, device: cpu" in out
    assert ACCURACY.search(out)
    ds = kt.KerasDirDataset(root, target_size=(32, 32), class_mode="sparse")
    val, _ = kt.split(ds, [0.2], seed=0)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["filename", "class"]
    assert [r[0] for r in rows[1:]] == list(val.filenames)  # one row per file, in order
    assert {r[1] for r in rows[1:]} <= set(ds.class_names)
