"""Progress bars for long work (indexing big trees, cache filling, benchmarks, training).

tqdm is a core dependency (pure Python, no dependencies of its own, ~80 KB): one code path
rather than a fallback printer. Library calls pass their ``verbose`` flag; a bar appears only
when ``verbose`` is true *and* the work lasts longer than ``delay`` seconds, so the quick
calls that make up most of a test suite or a notebook stay silent, as Keras's are.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")

#: Seconds a bar waits before it first shows, and at least between two redraws on a terminal
#: (tests set both to 0 to see every bar and every step). Into a log file or pipe a bar
#: redraws at most every ``LOG_FACTOR * MININTERVAL`` seconds (10 s), not ten times a second.
DELAY = 1.0
MININTERVAL = 0.1
LOG_FACTOR = 100


def progress(iterable: Iterable[T] | None = None, *, total: int | None = None, desc: str = "",
             unit: str = "it", verbose: bool = True, delay: float | None = None) -> Any:
    """A tqdm bar over ``iterable`` (or a manual bar: ``bar.update(n)``), silent unless
    ``verbose``.

    Args:
        iterable: what to iterate; None for a bar advanced by ``update``.
        total: number of steps (default: ``len(iterable)`` when it has one).
        desc: the bar's label, e.g. ``"Caching images"``.
        unit: what one step is (``"img"``, ``"file"``, ``"batch"``).
        verbose: False gives a disabled bar (same interface, prints nothing).
        delay: seconds before the bar first shows (quick work prints nothing); default
            ``DELAY`` (1 s).

    Returns:
        A ``tqdm`` instance: iterate it, or call ``update(n)`` / ``close()`` (a context
        manager too).
    """
    interactive = getattr(sys.stderr, "isatty", lambda: False)()
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not verbose,
                delay=DELAY if delay is None else delay,
                mininterval=MININTERVAL * (1 if interactive else LOG_FACTOR), file=sys.stderr, leave=False, dynamic_ncols=True)

