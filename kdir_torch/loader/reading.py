"""Reading the samples of a batch with a per-image deadline (``make_loader(timeout=...)``).

A read that never returns (a stalled network mount, a device that never answers) cannot be
interrupted from Python, but it can be abandoned. With ``timeout > 0`` a ``DeadlineReader``
runs ``load(i)`` for the samples of a batch on a helper thread of the process it lives in
(a ``DataLoader`` worker, or the main process with ``num_workers=0``) while the caller waits
on one event per batch. When one sample's read has taken longer than ``timeout`` seconds, its
result becomes an ``ImageDecodeError`` whose cause is a ``TimeoutError`` (so
``on_error="skip"`` skips it like a decode error), the stuck thread is left behind (it is a
daemon thread; whatever it returns later is dropped) and a fresh helper reads the rest of the
batch. Each abandoned read therefore keeps one blocked thread until the read returns.

With ``timeout=0`` samples are read inline, with no thread and no deadline.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ImageDecodeError

Result = Any  # the value of load(i), or the exception it raised
_HELPER_EXIT_WAIT = 5.0  # seconds a deleted reader waits for its idle helper to end


def sample_path(dataset: Any, i: int) -> str:
    """The file behind sample ``i`` (for error messages), or a description of the sample."""
    index = getattr(dataset, "index", None)
    if hasattr(index, "filepath"):
        return index.filepath(i)
    paths = getattr(dataset, "file_paths", None)
    if paths is not None:
        return str(paths[i])
    return f"<sample {i} of {type(dataset).__name__}>"


class _Job:
    """One batch handed to a helper thread; ``results`` grows as samples finish."""

    def __init__(self, indices: Sequence[int], stop_on_error: bool) -> None:
        self.indices, self.stop_on_error = list(indices), stop_on_error
        self.results: list[Result] = []
        self.sample_started = time.monotonic()
        self.abandoned = False
        self.lock = threading.Lock()
        self.done = threading.Event()


class DeadlineReader:
    """Calls ``load(i)`` for the samples of a batch, abandoning any read slower than ``timeout``.

    Args:
        load: reads one sample (``dataset.load_raw``); may raise.
        timeout: seconds one read may take; 0 reads inline without a deadline.
        describe: ``describe(i)`` names sample ``i``'s file in the timeout error.
    """

    def __init__(self, load: Callable[[int], Any], timeout: float,
                 describe: Callable[[int], str]) -> None:
        self.load, self.timeout, self.describe = load, float(timeout), describe
        self._jobs: queue.SimpleQueue | None = None
        self._pid = -1
        self._helper: threading.Thread | None = None

    def __getstate__(self) -> dict[str, Any]:  # threads and queues stay in their process
        return {**self.__dict__, "_jobs": None, "_pid": -1, "_helper": None}

    def __del__(self) -> None:
        if self._jobs is not None and self._pid == os.getpid():
            self._jobs.put(None)  # the idle helper thread ends with its reader
            # ... and is waited for: a daemon thread still on its way out when the interpreter
            # starts finalizing is killed mid-exit, which aborts the process ("terminate
            # called without an active exception", exit code 134)
            helper = self._helper
            if helper is not None and helper is not threading.current_thread():
                helper.join(_HELPER_EXIT_WAIT)

    def read(self, indices: Sequence[int], stop_on_error: bool = False) -> list[Result]:
        """Results of ``load(i)`` for ``indices``, in order (exceptions as values).

        Args:
            indices: dataset indices of the batch.
            stop_on_error: stop after the first failing sample (the list is then shorter).

        Returns:
            One entry per sample read: the loaded value, or the exception raised (a read
            that timed out gives an ``ImageDecodeError`` caused by a ``TimeoutError``).
        """
        if self.timeout <= 0:
            return _read_inline(self.load, indices, stop_on_error)
        results: list[Result] = []
        todo = list(indices)
        while todo:
            job = _Job(todo, stop_on_error)
            self._submit(job)
            timed_out = self._wait(job)
            results.extend(job.results)
            if timed_out is None:
                break
            results.append(self._timeout_error(timed_out))
            if stop_on_error:
                break
            todo = todo[len(job.results) + 1:]
        return results

    def _submit(self, job: _Job) -> None:
        if self._jobs is None or self._pid != os.getpid():
            self._start_helper()
        self._jobs.put(job)

    def _start_helper(self) -> None:
        self._jobs, self._pid = queue.SimpleQueue(), os.getpid()
        self._helper = threading.Thread(target=_serve, args=(self.load, self._jobs),
                                        daemon=True, name="kdir_torch-reader")
        self._helper.start()

    def _wait(self, job: _Job) -> int | None:
        """Wait for ``job``; the index whose read passed the deadline, or None when done."""
        while True:
            with job.lock:
                left = job.sample_started + self.timeout - time.monotonic()
                if job.done.is_set():
                    return None
                if left <= 0:  # the helper is stuck in this sample: leave it behind
                    job.abandoned = True
                    self._jobs = None
                    return job.indices[len(job.results)]
            job.done.wait(left)

    def _timeout_error(self, i: int) -> ImageDecodeError:
        cause = TimeoutError(f"reading the file took longer than timeout={self.timeout:g} s; "
                             "the read was abandoned")
        return ImageDecodeError(self.describe(i), int(i), cause)


def _read_inline(load: Callable[[int], Any], indices: Sequence[int],
                 stop_on_error: bool) -> list[Result]:
    results: list[Result] = []
    for i in indices:
        try:
            results.append(load(i))
        except Exception as exc:  # handed back as a value, like the threaded path
            results.append(exc)
            if stop_on_error:
                break
    return results


def _serve(load: Callable[[int], Any], jobs: queue.SimpleQueue) -> None:
    """Helper thread: run jobs until one is abandoned under it or its reader is deleted."""
    while True:
        job: _Job | None = jobs.get()
        if job is None:  # the reader is gone
            return
        for i in job.indices:
            try:
                result = load(i)
            except Exception as exc:
                result = exc
            with job.lock:
                if job.abandoned:
                    return  # the caller moved on; this thread's result is dropped
                job.results.append(result)
                job.sample_started = time.monotonic()
                failed = isinstance(result, BaseException)
            if failed and job.stop_on_error:
                break
        with job.lock:
            job.done.set()
