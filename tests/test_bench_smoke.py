"""The README's benchmark command runs end to end (tiny sizes; the figures are not checked)."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
import bench  # noqa: E402


def test_loader_benchmark_prints_every_contender(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert bench.main(["loader", "--photos", "48", "--repeats", "1", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path}/kdir_bench_photos_48: 48 JPEGs" in out
    for name in ("raw_bound", "kdir_torch make_loader ", "kdir_torch make_loader (channels_last)",
                 "kdir_torch host side of a GPU run (uint8)"):
        line = next(line for line in out.splitlines() if name in line)
        assert line.rstrip().endswith("x bound") and " img/s " in line


def test_cuda_device_without_cuda_is_refused(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit):
        bench.main(["loader", "--device", "cuda"])
    assert "CUDA is not available" in capsys.readouterr().err
