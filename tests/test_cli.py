"""The ``kdir-torch`` command: the demo runs end to end (in-process, subprocess; its progress bars: test_progress.py); ``inspect`` and ``preview`` (in-process and
through real subprocesses: exit codes, output, JSON, PNG sizes)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import kdir_torch as kt
from kdir_torch.cli import build_demo_tree, main
from kdir_torch.grid import TITLE_BAND
from kdir_torch.preview import parse_augment, preview_batch

_MAPPING = "class_indices: {'Class_1': 0, 'Class_10': 1, 'Class_2': 2, 'Class_3': 3}"


def _grid_line(out):
    """(path, (width, height)) from the demo's grid line."""
    m = re.search(r"\(epoch 0, (\d+) images\): (\S+) \((\d+)x(\d+) pixels\)", out)
    assert m, out
    return m.group(2), (int(m.group(3)), int(m.group(4))), int(m.group(1))


def test_demo_quick_in_process(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert _MAPPING in out and "'Class_10' comes before 'Class_2'" in out
    assert "16 training / 4 validation images" in out  # 4 classes x 5, stratified 20%
    assert re.search(r"epoch 1/1: loss \d+\.\d+, train accuracy [\d.]+, 1 batches in", out)
    acc = float(re.search(r"Validation accuracy: ([\d.]+) \((\d+)/4;", out).group(1))
    rows = [line.split() for line in out.splitlines() if line.endswith("%") and "recall" in line]
    assert [r[0] for r in rows] == ["Class_1", "Class_10", "Class_2", "Class_3"]
    counts = np.array([[int(v) for v in r[1:5]] for r in rows])
    assert counts.sum(axis=1).tolist() == [1, 1, 1, 1]  # one validation image per class
    assert np.trace(counts) / 4 == acc
    path, size, tiles = _grid_line(out)
    assert path == str(out_dir / "batch_grid.png") and tiles == 16
    with Image.open(path) as im:  # 16 tiles of 24 px, 8 per row, titled
        assert im.size == size == (8 * 26 + 2, 2 * (24 + TITLE_BAND + 2) + 2)
    assert sorted(os.listdir(out_dir / "images")) == ["Class_1", "Class_10", "Class_2", "Class_3"]
    # a previous demo folder is reused; any other non-empty folder is refused
    assert main(["demo", "--quick", "--out", str(out_dir), "--classes", "2"]) == 0
    assert sorted(os.listdir(out_dir / "images")) == ["Class_1", "Class_2"]
    (out_dir / "mine.txt").write_text("x")
    assert main(["demo", "--quick", "--out", str(out_dir)]) == 1
    assert "is not empty and not a previous demo folder" in capsys.readouterr().err
    assert (out_dir / "mine.txt").exists() and (out_dir / "images" / "Class_1").is_dir()


def test_demo_quick_subprocess(tmp_path):
    out_dir = tmp_path / "d"
    res = _cli("demo", "--quick", "--out", str(out_dir))
    assert res.returncode == 0, res.stderr
    assert _MAPPING in res.stdout and "Validation accuracy: " in res.stdout
    path, size, _ = _grid_line(res.stdout)
    with Image.open(path) as im:
        im.load()
        assert im.size == size and im.mode == "RGB"


def test_demo_tree_draws_shapes(tmp_path):
    root = build_demo_tree(str(tmp_path), classes=4, per_class=2, size=32)
    with Image.open(tmp_path / "Class_10" / "00.png") as im:
        arr = np.asarray(im)
    assert 32 <= min(arr.shape[:2]) and max(arr.shape[:2]) <= 44 and arr.std() > 20
    a, b = (np.asarray(Image.open(os.path.join(root, "Class_1", f"0{i}.png"))) for i in (0, 1))
    assert a.shape != b.shape or not np.array_equal(a, b)


def test_inspect(tmp_path, capsys):
    build_demo_tree(str(tmp_path), classes=2, per_class=3)
    assert main(["inspect", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("6 images in 2 classes")
    assert "Class_1: 3" in out and "Class_2: 3" in out


@pytest.mark.parametrize("argv", [["nope"], ["demo", "--per-class", "4"], ["demo", "--size", "7"],
                                  ["demo", "--classes", "5"]])
def test_bad_arguments(argv):
    with pytest.raises(SystemExit):
        main(argv)


# -- inspect / preview ---------------------------------------------------------------------



def _cli(*args):
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    return subprocess.run([sys.executable, "-m", "kdir_torch.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def _trap_tree(root):
    """Class_1/Class_10/Class_2 (+ extras): every trap inspect reports, once each."""
    build_demo_tree(str(root), classes=3, per_class=5)  # Class_1, Class_2, Class_10
    os.makedirs(root / ".ipynb_checkpoints")
    (root / "Class_1" / "notes.txt").write_text("x")
    (root / "Class_1" / "Thumbs.db").write_text("x")
    shutil.copy(root / "Class_1" / "00.png", root / "Class_2" / "._00.png")
    os.makedirs(root / "Class_2" / ".ipynb_checkpoints")
    shutil.copy(root / "Class_1" / "00.png", root / "Class_2" / ".ipynb_checkpoints" / "a.png")
    os.mkfifo(root / "Class_10" / "pipe.png")
    os.makedirs(root / "elsewhere")
    shutil.copy(root / "Class_1" / "00.png", root / "elsewhere" / "e.png")
    os.symlink(root / "elsewhere", root / "Class_10" / "linked")
    shutil.copy(root / "Class_1" / "00.png", root / "stray.png")
    return root


def test_inspect_json_subprocess(tmp_path):
    root = _trap_tree(tmp_path / "t")
    res = _cli("inspect", str(root), "--json", "--split", "0.4")
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)  # exactly one JSON object on stdout
    names = [".ipynb_checkpoints", "Class_1", "Class_10", "Class_2", "elsewhere"]
    assert r["class_indices"] == {n: i for i, n in enumerate(names)}
    assert [(c["name"], c["files"]) for c in r["classes"]] == list(zip(names, [0, 5, 6, 7, 1]))
    with pytest.warns(UserWarning, match="Hidden folder"):
        assert r["total"] == 19 == len(kt.index_directory(str(root)))
    assert r["classes"][3]["share"] == round(700 / 19, 2) and r["imbalance_ratio"] == 7.0
    assert r["skipped"] == {"extension not listed": 2, "symlinked folder not followed": 1,
                            "file in the root": 1}
    assert r["skipped_extensions"] == {".db": 1, ".txt": 1}
    assert r["listed_risky"] == {"hidden file": 1, "in .ipynb_checkpoints": 1,
                                 "not a regular file": 1}
    assert r["hidden_folders"] == {".ipynb_checkpoints": "class"}
    text = "\n".join(r["warnings"])
    for needle in ("Hidden folder '.ipynb_checkpoints'",
                   "'Class_10' gets index 2, before 'Class_2' (index 3)",
                   "'.ipynb_checkpoints' is a class",
                   "1 listed file(s) sit in .ipynb_checkpoints", "1 hidden file(s)",
                   "not regular files", "1 image(s) directly in the root (e.g. 'stray.png')"):
        assert needle in text
    for subset in ("training", "validation"):  # what KerasDirDataset itself holds
        with pytest.warns(UserWarning, match="Hidden folder"):
            ds = kt.KerasDirDataset(str(root), validation_split=0.4, subset=subset,
                                    verbose=False)
        counts = np.bincount(ds.classes, minlength=len(names)).tolist()
        assert list(r["subsets"][subset]["per_class"].values()) == counts
        assert r["subsets"][subset]["total"] == len(ds)


def test_inspect_modern_split_matches_image_dataset_from_directory(tmp_path, capsys):
    root = _trap_tree(tmp_path / "t")
    assert main(["inspect", str(root), "--modern", "--split", "0.3", "--seed", "7", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["rules"] == "modern" and r["hidden_folders"] == {".ipynb_checkpoints": "skipped"}
    assert r["skipped"]["hidden class folder"] == 1
    assert list(r["class_indices"]) == ["Class_1", "Class_10", "Class_2", "elsewhere"]
    train, val = kt.image_dataset_from_directory(str(root), validation_split=0.3, seed=7,
                                                 subset="both", image_size=(8, 8))
    for subset, ds in (("training", train), ("validation", val)):
        per = [sum(os.sep + n + os.sep in p for p in ds.file_paths) for n in r["class_indices"]]
        assert list(r["subsets"][subset]["per_class"].values()) == per


@pytest.mark.parametrize("modern", [False, True])
def test_inspect_follow_links(tmp_path, capsys, modern):
    root = _trap_tree(tmp_path / "t")
    argv = ["inspect", str(root), "--follow-links", "--split", "0.5", "--json"]
    assert main(argv + (["--modern"] if modern else [])) == 0
    r = json.loads(capsys.readouterr().out)
    assert "symlinked folder not followed" not in r["skipped"]
    assert r["classes"][r["class_indices"]["Class_10"]]["files"] == 7  # 5 + pipe + linked/e
    assert r["subsets"]["training"]["total"] + r["subsets"]["validation"]["total"] == r["total"]
    assert sum(r["subsets"]["validation"]["per_class"].values()) == r["subsets"]["validation"][
        "total"] == (int(0.5 * r["total"]) if modern else sum(c["files"] // 2 for c in r["classes"]))


def test_inspect_plain_output(tmp_path, capsys):
    build_demo_tree(str(tmp_path), classes=3, per_class=4)
    assert main(["inspect", str(tmp_path), "--split", "0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"12 images in 3 classes under {tmp_path} (legacy rules)"
    assert lines[1:4] == ["     0  Class_1: 4  (33.3%)", "     1  Class_10: 4  (33.3%)",
                          "     2  Class_2: 4  (33.3%)"]
    assert "imbalance (largest/smallest non-empty class): 1" in lines[4]
    assert "  training: 6 (Class_1: 2, Class_10: 2, Class_2: 2)" in lines
    assert any(line.startswith("warning: Class indices follow plain string sort") for line in lines)


def test_inspect_errors(tmp_path):
    res = _cli("inspect", str(tmp_path / "missing"))
    assert res.returncode == 1 and res.stdout == ""
    missing = str(tmp_path / "missing")
    assert res.stderr.strip().splitlines() == [
        f"kdir-torch inspect: error: cannot list directory {missing!r}: No such file or directory"]
    with pytest.raises(SystemExit) as e:
        main(["inspect", str(tmp_path), "--split", "1.5"])
    assert e.value.code == 2


def test_preview_subprocess_png_size(tmp_path):
    build_demo_tree(str(tmp_path / "t"), classes=2, per_class=5)
    out = tmp_path / "grid.png"
    res = _cli("preview", str(tmp_path / "t"), "--out", str(out), "--n", "6", "--size", "20",
               "--ncols", "4", "--augment", "rotation_range=20,horizontal_flip=true")
    assert res.returncode == 0, res.stderr
    size = (4 * 22 + 2, 2 * (20 + TITLE_BAND + 2) + 2)
    assert res.stdout.strip() == f"{out}: {size[0]}x{size[1]} pixels, 6 tiles"
    with Image.open(out) as im:
        im.load()
        assert im.size == size


def test_preview_original_alternates_tiles(tmp_path, capsys):
    build_demo_tree(str(tmp_path / "t"), classes=2, per_class=5)
    plain, y0, ci = preview_batch(str(tmp_path / "t"), n=4, size=16, seed=3)
    both, y, _ = preview_batch(str(tmp_path / "t"), n=4, size=16, seed=3, original=True,
                               augment={"rotation_range": 90, "fill_mode": "constant"})
    assert ci == {"Class_1": 0, "Class_2": 1} and both.shape == (8, 3, 16, 16)
    assert torch.equal(both[0::2], plain) and not torch.equal(both[1::2], plain)
    assert y.tolist() == np.repeat(y0, 2).tolist()
    out = tmp_path / "g.png"
    assert main(["preview", str(tmp_path / "t"), "--out", str(out), "--n", "3", "--size",
                 "16", "--ncols", "3", "--augment", "vertical_flip=true", "--original"]) == 0
    with Image.open(out) as im:  # 6 tiles, ncols rounded up to 4 so pairs share a row
        assert im.size == (4 * 18 + 2, 2 * (16 + TITLE_BAND + 2) + 2)
    assert "6 tiles" in capsys.readouterr().out


def test_preview_picks_by_seed(tmp_path):
    build_demo_tree(str(tmp_path / "t"), classes=3, per_class=5)
    a = preview_batch(str(tmp_path / "t"), n=5, size=8, seed=0)[0]
    assert torch.equal(a, preview_batch(str(tmp_path / "t"), n=5, size=8, seed=0)[0])
    assert not torch.equal(a, preview_batch(str(tmp_path / "t"), n=5, size=8, seed=1)[0])
    assert len(preview_batch(str(tmp_path / "t"), n=100, size=8)[0]) == 15


def test_parse_augment_values():
    assert parse_augment("rotation_range=20, horizontal_flip=true,zoom_range=0.8:1.2,"
                         "fill_mode=reflect,brightness_range=none,width_shift_range=0.1") == {
        "rotation_range": 20, "horizontal_flip": True, "zoom_range": (0.8, 1.2),
        "fill_mode": "reflect", "brightness_range": None, "width_shift_range": 0.1}
    with pytest.raises(ValueError, match="key=value"):
        parse_augment("rotation_range")
    with pytest.raises(ValueError, match="`zoom_range`"):
        parse_augment("zoom_range=1:2:3")


def test_preview_errors(tmp_path):
    res = _cli("preview", str(tmp_path), "--out", "g.png", "--augment",
               "foo=1,rotation_range=3,bar=2")
    assert res.returncode == 2
    assert "unknown Augment key(s) bar, foo; known keys: brightness_range" in res.stderr
    res = _cli("preview", str(tmp_path / "missing"), "--out", str(tmp_path / "g.png"))
    assert res.returncode == 1 and res.stderr.strip().splitlines() == [
        f"kdir-torch preview: error: directory {str(tmp_path / 'missing')!r} does not exist"]
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(SystemExit) as e:
        main(["preview", str(tmp_path / "empty"), "--out", "g.png", "--original"])
    assert e.value.code == 2
    assert main(["preview", str(tmp_path / "empty"), "--out", str(tmp_path / "g.png")]) == 1
    assert not (tmp_path / "g.png").exists()
