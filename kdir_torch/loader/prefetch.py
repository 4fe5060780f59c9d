"""Moving batches to the target device, one batch ahead on a CUDA side stream.

DESIGN.md "Performance approach": one side stream per loader (created once), ``non_blocking``
host-to-device copies from pinned memory, the float conversion / augmentation /
standardization of batch ``k + 1`` enqueued on that stream while the caller works on batch
``k``; the consumer's stream waits on the side stream before it sees a batch, and
``record_stream`` tells the caching allocator that the consumer stream uses the batch's
memory (so it is not recycled under the consumer's feet). On the CPU (or any non-CUDA
device) the same ``prepare`` function simply runs inline: same code, same results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import torch

T = TypeVar("T")


def _tensors(obj: Any) -> Iterator[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from _tensors(item)


def map_tensors(fn: Callable[[torch.Tensor], torch.Tensor], obj: Any) -> Any:
    """``obj`` with ``fn`` applied to every tensor in it: a tensor, or lists / tuples of them
    (nested, e.g. a multi_output batch ``(x, [y1, y2], w)``); anything else as it is."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, list):
        return [map_tensors(fn, item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(map_tensors(fn, item) for item in obj)
    return obj


class DevicePrefetcher:
    """Runs ``prepare`` on each host batch, overlapped with the caller on CUDA.

    Args:
        device: where ``prepare`` puts its outputs.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def iterate(self, batches: Iterable[T], prepare: Callable[[T], Any]) -> Iterator[Any]:
        """Yield ``prepare(b)`` for every ``b`` (None results are skipped).

        Args:
            batches: host-side batches (pinned when the target is CUDA).
            prepare: transfers and finishes a batch on ``self.device``.

        Returns:
            An iterator of prepared batches, ready to use on the current stream.
        """
        if self.stream is None:
            for batch in batches:
                out = prepare(batch)
                if out is not None:
                    yield out
            return
        yield from self._cuda(iter(batches), prepare)

    def _launch(self, it: Iterator[T], prepare: Callable[[T], Any]) -> tuple[bool, Any]:
        """Enqueue the next non-empty batch on the side stream; (False, None) when done."""
        for batch in it:
            with torch.cuda.stream(self.stream):
                out = prepare(batch)
            if out is not None:
                return True, out
        return False, None

    def _cuda(self, it: Iterator[T], prepare: Callable[[T], Any]) -> Iterator[Any]:
        more, ahead = self._launch(it, prepare)
        while more:
            consumer = torch.cuda.current_stream(self.device)
            consumer.wait_stream(self.stream)
            current = ahead
            for t in _tensors(current):
                if t.device.type == "cuda":
                    t.record_stream(consumer)
            more, ahead = self._launch(it, prepare)  # next batch in flight during the yield
            yield current
