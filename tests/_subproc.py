"""Test helpers for subprocess runs: the repository on ``PYTHONPATH`` and torchrun commands."""

from __future__ import annotations

import os
import socket
import sys

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)


def repo_env(**extra: str) -> dict[str, str]:
    """``os.environ`` with the repository first on ``PYTHONPATH`` and one OpenMP thread."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]),
            "OMP_NUM_THREADS": "1", **extra}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for torchrun's rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(script: str, *args: str, nproc: int = 2) -> list[str]:
    """The command running ``script args`` on ``nproc`` local ranks with torch.distributed.run."""
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
            "--nnodes=1", "--master_addr=127.0.0.1", f"--master_port={free_port()}",
            script, *args]
