"""Every code block of README.md runs as written.

The blocks are read from README.md when the tests are collected, so a block added to the
README is tested without touching this file.

Where they run: each block in a fresh temporary folder (the current directory while it runs)
holding the README's example data:

- ``data/train/cat``, ``data/train/dog``: 24 photo-like JPEGs each (60x80 and 80x60), the
  ``data/train`` tree every example reads;
- ``data/site_a/train/{cat,dog}`` and ``data/site_b/train/{cat,emu}``: 4 JPEGs per class, the
  two roots of the multi-root examples.

Rules:

- ```` ```python ```` blocks: executed in-process, each in a fresh namespace (so every block
  imports what it uses and builds what it reads). A block whose first line is
  ``# needs: cuda`` runs only where CUDA is available (skipped otherwise); ``# needs: torchrun``
  blocks are skipped (they need a process group; ``tests/test_examples.py`` runs the DDP
  example under torchrun).
- ```` ```bash ```` blocks: each command (``\\``-continued lines joined) that starts with
  ``kdir-torch`` runs in-process through ``kdir_torch.cli.main`` and must exit 0, except
  ``kdir-torch bench`` (a timing run of a minute or more; ``tests/test_bench_smoke.py`` runs
  it small) and with ``--quick`` added to ``kdir-torch demo`` (a few seconds instead of ~30).
  Every other line is skipped by rule: installs and environments (``pip``, ``python3 -m
  venv``, ``. .venv/bin/activate``: they change the machine), the test suite itself
  (``pytest``) and comments.
"""

from __future__ import annotations

import os
import re
import shlex

import numpy as np
import pytest
from PIL import Image

from _subproc import REPO
from kdir_torch.bench.trees import photo

README = os.path.join(REPO, "README.md")
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
NEEDS = re.compile(r"^#\s*needs:\s*(\w+)")


def blocks(lang: str) -> list[tuple[int, str]]:
    """``(line number, source)`` of every fenced ``lang`` block of README.md."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    return [(text.count("\n", 0, m.start()) + 2, m.group(2))
            for m in FENCE.finditer(text) if m.group(1) == lang]


def commands(source: str) -> list[str]:
    """The shell commands of a bash block: continuations joined, comments and blanks dropped."""
    joined = re.sub(r"\s*\\\n\s*", " ", source)
    return [line.strip() for line in joined.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def kdir_args(command: str) -> list[str] | None:
    """The ``kdir_torch.cli.main`` arguments for a README command, or None when the rule skips
    it (see the module docstring)."""
    if not command.startswith("kdir-torch "):
        return None
    argv = shlex.split(command, comments=True)[1:]
    if argv[0] == "bench":
        return None
    if argv[0] == "demo" and "--quick" not in argv:
        argv.append("--quick")
    return argv


def _write_class_tree(root: str, counts: dict[str, int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    for cls, n in counts.items():
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for i in range(n):
            h, w = (60, 80) if i % 2 else (80, 60)
            Image.fromarray(photo(rng, h, w)).save(os.path.join(root, cls, f"{i:04d}.jpg"),
                                                   quality=90)


@pytest.fixture(scope="module")
def example_data(tmp_path_factory):
    """The README's example data (module docstring), written once; copied per block."""
    base = tmp_path_factory.mktemp("readme_data")
    _write_class_tree(str(base / "data" / "train"), {"cat": 24, "dog": 24}, seed=0)
    _write_class_tree(str(base / "data" / "site_a" / "train"), {"cat": 4, "dog": 4}, seed=1)
    _write_class_tree(str(base / "data" / "site_b" / "train"), {"cat": 4, "emu": 4}, seed=2)
    return base


@pytest.fixture
def in_example_dir(example_data, tmp_path, monkeypatch):
    """A fresh folder holding a copy of the example data, as the current directory."""
    import shutil

    shutil.copytree(example_data / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _skip_by_need(source: str) -> None:
    m = NEEDS.match(source)
    if m is None:
        return
    need = m.group(1)
    if need == "cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.skip("README block marked '# needs: cuda' and CUDA is not available")
        return
    if need == "torchrun":
        pytest.skip("README block marked '# needs: torchrun' (run by tests/test_examples.py)")
    raise AssertionError(f"unknown '# needs: {need}' marker: the README test honours cuda "
                         "and torchrun")


PYTHON = blocks("python")
BASH = blocks("bash")


def test_readme_has_blocks_to_run():
    """The extraction finds the README's blocks (so the parametrized tests are not empty)."""
    assert len(PYTHON) >= 5 and len(BASH) >= 2
    ran = [c for _, src in BASH for c in commands(src) if kdir_args(c)]
    assert any(c.startswith("kdir-torch inspect") for c in ran)
    assert any(c.startswith("kdir-torch preview") for c in ran)


@pytest.mark.parametrize("line,source", PYTHON, ids=[f"README.md:{n}" for n, _ in PYTHON])
def test_python_block_runs(line, source, in_example_dir):
    _skip_by_need(source)
    code = compile("\n" * (line - 1) + source, README, "exec")  # tracebacks name README lines
    exec(code, {"__name__": f"readme_block_{line}"})


@pytest.mark.parametrize("line,source", BASH, ids=[f"README.md:{n}" for n, _ in BASH])
def test_bash_block_commands_run(line, source, in_example_dir, capsys):
    from kdir_torch.cli import main

    _skip_by_need(source)
    for command in commands(source):
        argv = kdir_args(command)
        if argv is None:
            continue
        code = main(argv)
        captured = capsys.readouterr()
        assert code == 0, f"README.md:{line}: {command!r} exited {code}: {captured.err}"


def test_skip_rules():
    assert kdir_args("python3 -m venv .venv && . .venv/bin/activate && pip install -e .") is None
    assert kdir_args("kdir-torch bench data/train") is None
    assert kdir_args("kdir-torch demo --out demo   # the tour") == ["demo", "--out", "demo",
                                                                      "--quick"]
    assert commands("kdir-torch preview a \\\n    --n 4  # x\n# c\n\n") == [
        "kdir-torch preview a --n 4  # x"]
