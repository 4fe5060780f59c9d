"""Timing helpers shared by every benchmark section: best-of, interleaved rounds, the report.

Timings on shared machines are noisy: each section measures its reference (the raw decode
bound, Keras, a peer) in the same run, interleaved round by round with our contenders, so a
drift in machine speed hits all alike; ratios of one run are what to compare.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np


def best(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time in seconds of ``repeats`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def count(batches: Iterable) -> int:
    """Images in an iterable of batches (``(x, ...)`` tuples or bare tensors)."""
    return sum(len(b[0]) if isinstance(b, (tuple, list)) else len(b) for b in batches)


def interleaved(runs: dict[str, Callable[[], int] | None], rounds: int,
                verbose: bool = False) -> dict[str, list[float]]:
    """Rates (images/s) of every contender over ``rounds`` rounds, each round running each
    contender once in order. A contender is a callable returning how many images it handled;
    None (not installed) is left out of the result. ``verbose``: a progress bar on stderr
    (one step per contender run) when the rounds last more than a second."""
    from ..progress import progress

    res: dict[str, list[float]] = {name: [] for name, run in runs.items() if run is not None}
    bar = progress(total=rounds * len(res), desc="Timing rounds", unit="run", verbose=verbose)
    for _ in range(rounds):
        for name in res:
            bar.set_description_str(f"Timing {name}", refresh=False)
            start = time.perf_counter()
            n = runs[name]()
            res[name].append(n / (time.perf_counter() - start))
            bar.update(1)
    bar.close()
    return res


def report(tag: str, runs: dict[str, object], res: dict[str, list[float]], bound: str,
           ours: str, width: int = 46, reference: str = "bound") -> dict[str, float]:
    """Print one line per contender: median rate, best in brackets, ratio to ``bound`` (named
    ``reference`` in the line: "bound", or "Keras" where the reference is a peer), and for
    peers how many times faster ``ours`` is. Returns the medians."""
    med = {k: float(np.median(v)) for k, v in res.items()}
    for name in runs:
        if name not in res:
            print(f"[{tag}] {name:{width}s} not installed")
            continue
        extra = "" if name == bound or name.startswith("kdir_torch") else \
            f"  kdir_torch is {med[ours] / med[name]:.2f}x this"
        print(f"[{tag}] {name:{width}s} {med[name]:7.1f} img/s [{max(res[name]):7.1f}]  "
              f"{med[name] / med[bound]:4.2f}x {reference}{extra}")
    return med
