"""Progress bars (kdir_torch.progress): on stderr when verbose and slow, silent otherwise.

"Slow" is the helper's delay (``progress.DELAY``, 1 s); the tests set it (and the redraw
interval) to 0 so every verbose bar shows every step, and keep the real delay to check that
quick verbose work stays silent.
"""

from __future__ import annotations

import pytest

import kdir_torch as kt
from kdir_torch import progress as progress_mod
from kdir_torch.bench.timing import interleaved
from kdir_torch.demo import build_demo_tree


@pytest.fixture
def tree(tmp_path):
    return build_demo_tree(str(tmp_path / "t"), classes=3, per_class=2, size=8)


@pytest.fixture
def no_delay(monkeypatch):
    monkeypatch.setattr(progress_mod, "DELAY", 0.0)
    monkeypatch.setattr(progress_mod, "MININTERVAL", 0.0)


def test_index_directory_shows_a_bar_when_verbose_and_slow(tree, no_delay, capsys):
    idx = kt.index_directory(tree, verbose=True)
    err = capsys.readouterr().err
    assert len(idx) == 6
    assert "Indexing" in err and "6file" in err.replace(" ", "") and "class 3/3" in err


def test_index_directory_is_silent_without_verbose(tree, no_delay, capsys):
    kt.index_directory(tree)  # verbose=False is the default of the index function
    kt.index_directory(tree, formats="modern", labels=None, verbose=False)
    assert capsys.readouterr().err == ""


def test_quick_verbose_indexing_prints_nothing(tree, capsys):
    """With the real 1 s delay a small tree's walk never shows a bar."""
    kt.KerasDirDataset(tree, target_size=(8, 8))
    captured = capsys.readouterr()
    assert captured.err == "" and "Found 6 images belonging to 3 classes." in captured.out


@pytest.mark.parametrize("make", [
    lambda root, v: kt.KerasDirDataset(root, target_size=(8, 8), verbose=v),
    lambda root, v: kt.KerasDirDataset([root], target_size=(8, 8), verbose=v),
    lambda root, v: kt.image_dataset_from_directory(root, image_size=(8, 8), verbose=v),
    lambda root, v: kt.image_dataset_from_directory(root, labels=None, image_size=(8, 8),
                                                    verbose=v),
    lambda root, v: kt.image_dataset_from_directory([root], labels=None, image_size=(8, 8),
                                                    verbose=v),
], ids=["legacy", "legacy-roots", "modern", "modern-unlabeled", "modern-roots-unlabeled"])
def test_datasets_follow_their_verbose_flag(tree, no_delay, capsys, make):
    make(tree, True)
    assert "Indexing" in capsys.readouterr().err
    make(tree, False)
    captured = capsys.readouterr()
    assert captured.err == "" and "Found" not in captured.out


def test_benchmark_rounds_bar(no_delay, capsys):
    res = interleaved({"a": lambda: 4, "missing": None, "b": lambda: 2}, rounds=2, verbose=True)
    assert sorted(res) == ["a", "b"] and all(len(v) == 2 for v in res.values())
    err = capsys.readouterr().err
    assert "Timing b" in err and "4/4" in err
    interleaved({"a": lambda: 1}, rounds=1)
    assert capsys.readouterr().err == ""


def test_demo_training_bar_and_epoch_lines(tmp_path, no_delay, capsys):
    from kdir_torch.cli import main

    assert main(["demo", "--quick", "--epochs", "2", "--out", str(tmp_path / "d")]) == 0
    captured = capsys.readouterr()
    assert "Drawing images" in captured.err
    for epoch in ("epoch 1/2", "epoch 2/2"):
        assert epoch in captured.err  # the bar, with the running loss and accuracy
        assert f"{epoch}: loss " in captured.out  # the line that stays
    assert "loss=" in captured.err and "acc=" in captured.err
