"""The README's benchmark command runs end to end (tiny sizes; the figures are not checked)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kdir_torch.bench import cli as bench


def test_loader_benchmark_prints_every_contender(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert bench.main(["loader", "--photos", "48", "--repeats", "1", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert f"tree {tmp_path}/kdir_bench_photos_48: 48 images" in out
    for name in ("raw_bound", "kdir_torch make_loader ", "kdir_torch make_loader (channels_last)",
                 "kdir_torch host side of a GPU run (uint8)"):
        line = next(line for line in out.splitlines() if name in line)
        assert line.rstrip().endswith("x bound") and " img/s " in line
    dali = next(line for line in out.splitlines() if "DALI CPU pipeline" in line)
    try:
        import nvidia.dali  # noqa: F401
    except ImportError:
        assert dali.rstrip().endswith("not installed")
    else:  # a peer: its rate, its share of the bound, our ratio to it
        assert " img/s " in dali and "x bound" in dali and "kdir_torch is " in dali


def test_cuda_device_without_cuda_is_refused(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit):
        bench.main(["loader", "--device", "cuda"])
    assert "CUDA is not available" in capsys.readouterr().err


def test_scripts_bench_is_the_package_benchmark():
    """scripts/bench.py runs kdir_torch.bench (one home for the benchmarks)."""
    script = os.path.join(os.path.dirname(__file__), "..", "scripts", "bench.py")
    out = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "index,augment,loader,memory" in out.stdout.replace(" ", "").replace("'", "")


def test_cli_bench_on_a_user_tree(tmp_path):
    """kdir-torch bench DIR: the loader figures on that tree, nothing written into it."""
    from kdir_torch.bench.trees import build_photo_tree

    root = tmp_path / "tree"
    build_photo_tree(str(root), 24, n_classes=3, size=(60, 80))
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    out = subprocess.run([sys.executable, "-m", "kdir_torch.cli", "bench", str(root),
                          "--repeats", "1", "--workers", "1"],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "KERAS_BACKEND": "torch"})
    assert out.returncode == 0, out.stderr
    assert f"tree {root}: 24 images" in out.stdout
    bound = next(line for line in out.stdout.splitlines() if "raw_bound" in line)
    assert bound.rstrip().endswith("1.00x bound")
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_cli_bench_refuses_a_missing_tree_and_unknown_sections(tmp_path):
    from kdir_torch.cli import main

    with pytest.raises(SystemExit) as info:
        main(["bench", str(tmp_path / "nope")])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["bench", "--sections", "loader,warp"])
    assert info.value.code == 2


def test_cache_benchmark_prints_bound_fill_and_cached_epochs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert bench.main(["cache", "--photos", "24", "--repeats", "1", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    for name in ("raw_bound", "no cache", "filling (memory)", "filling (disk)",
                 "cached epoch (memory)", "cached epoch (disk)"):
        line = next(line for line in out.splitlines() if name in line)
        assert line.rstrip().endswith("x bound") and " img/s " in line
    assert sorted(os.listdir(tmp_path)) == ["kdir_bench_photos_24"]  # disk caches removed


def test_draft_benchmark_prints_every_contender(tmp_path, monkeypatch, capsys):
    from kdir_torch.bench.draft import draft_speed

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    res = draft_speed(n_images=4, n_small=4, num_workers=1, rounds=1, diff_images=2,
                      large_size=(450, 600))
    out = capsys.readouterr().out
    for tag in ("[draft 600x450]", "[draft 600x450 bilinear]", "[draft ~500x375]"):
        lines = [line for line in out.splitlines() if line.startswith(tag) and "img/s" in line]
        assert len(lines) == 4 and all(line.rstrip().endswith("x bound") or "this" in line
                                       for line in lines)
    assert set(res["difference"]) == {f"{a} {i}" for a in ("legacy", "modern")
                                      for i in ("nearest", "bilinear")}
    assert all(0 < mean < 20 for mean, _ in res["difference"].values())


def test_decode_on_device_option_skips_without_cuda(tmp_path, monkeypatch, capsys):
    """--decode-on-device times make_loader(decode_on='device') on CUDA; without CUDA the
    contender is left out with the reason printed (the other figures still come)."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert bench.main(["loader", "--photos", "16", "--repeats", "1", "--workers", "1",
                       "--decode-on-device"]) == 0
    out = capsys.readouterr().out
    assert "make_loader (decode_on='device') skipped: CUDA is not available" in out
    assert "decode_on='device')  " not in out and "raw_bound" in out


def test_cli_bench_limit_times_a_class_balanced_sample(tmp_path, capsys):
    """--limit N: N images spread evenly over the tree's classes, as symlinks in a temporary
    folder that is gone afterwards; the tree itself is untouched."""
    from kdir_torch.bench.trees import build_photo_tree, sample_tree
    from kdir_torch.cli import main

    root = tmp_path / "tree"
    build_photo_tree(str(root), 30, n_classes=3, size=(40, 50))
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    assert main(["bench", str(root), "--limit", "9", "--repeats", "1", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "[bench] timing 9 images of the tree" in out and ": 9 images ready" in out
    sample_dir = out.split("symlinked under ")[1].split(" ")[0]
    assert not os.path.exists(sample_dir)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    dest = sample_tree(str(root), 6, str(tmp_path / "sample"))
    counts = {d.name: len(list(d.iterdir())) for d in sorted((tmp_path / "sample").iterdir())}
    assert dest == str(tmp_path / "sample") and counts == {"class_0": 2, "class_1": 2,
                                                           "class_2": 2}
    with pytest.raises(SystemExit):
        main(["bench", str(root), "--limit", "0"])
