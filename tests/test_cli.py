"""The ``kdir-torch`` command: the README's demo must run end to end; ``inspect`` counts."""

from __future__ import annotations

import pytest

from kdir_torch.cli import build_demo_tree, main


def test_demo_runs(capsys):
    assert main(["demo", "--per-class", "5", "--batch-size", "4"]) == 0
    out = capsys.readouterr().out
    assert "{'Class_1': 0, 'Class_10': 1, 'Class_2': 2}" in out
    assert "batch x: shape=(4, 3, 64, 64) dtype=torch.float32" in out
    assert "bit-identical" in out


def test_inspect(tmp_path, capsys):
    build_demo_tree(str(tmp_path), classes=2, per_class=3)
    assert main(["inspect", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("6 images in 2 classes")
    assert "Class_1: 3" in out and "Class_2: 3" in out


@pytest.mark.parametrize("argv", [["nope"], ["demo", "--per-class", "4"]])
def test_bad_arguments(argv):
    with pytest.raises(SystemExit):
        main(argv)
