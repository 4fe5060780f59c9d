"""Multi-process helpers: who am I in the process group, and predictions back in file order.

With ``make_loader(..., distributed=True)`` each rank reads its shard of every epoch (see
``sampler.py`` for the padding policy). ``gather_predictions`` undoes the sharding: it
all-gathers per-sample outputs with their dataset indices, drops the padding repeats and
returns the outputs of the whole dataset in index order, i.e. ``dataset.filenames`` order, on
every rank.
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True when a ``torch.distributed`` process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def world() -> tuple[int, int]:
    """``(num_replicas, rank)`` of the default process group, ``(1, 0)`` without one."""
    if not is_distributed():
        return 1, 0
    return dist.get_world_size(), dist.get_rank()


def _all_gather_rows(t: torch.Tensor) -> list[torch.Tensor]:
    """All-gather tensors whose first dimension differs across ranks."""
    size = torch.tensor([t.shape[0]], dtype=torch.int64, device=t.device)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, size)
    longest = int(max(s.item() for s in sizes))
    padded = t.new_zeros((longest, *t.shape[1:]))
    padded[: t.shape[0]] = t
    parts = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(parts, padded.contiguous())
    return [p[: int(s.item())] for p, s in zip(parts, sizes)]


def gather_predictions(outputs: torch.Tensor, indices: torch.Tensor,
                       dataset_len: int | None = None) -> torch.Tensor:
    """Collect per-sample outputs of all ranks in dataset-index (``filenames``) order.

    Args:
        outputs: ``(n_local, ...)`` predictions of this rank, any dtype; on a CUDA device for
            NCCL, on the CPU for gloo.
        indices: ``(n_local,)`` integer dataset indices of those rows (the third item of
            ``make_loader(..., return_indices=True)`` batches, concatenated).
        dataset_len: when given, check that every index ``0..dataset_len-1`` is present.

    Returns:
        ``(M, ...)`` tensor, row ``i`` = the prediction for dataset index ``i`` (the first
        occurrence wins for padding repeats), on ``outputs``' device; ``M = dataset_len`` or
        the number of distinct indices. Without a process group this only reorders.

    Raises:
        TypeError: ``outputs``/``indices`` are not tensors or ``indices`` is not integral.
        ValueError: mismatched lengths, or ``dataset_len`` given and indices are missing or
            out of range.
    """
    if not isinstance(outputs, torch.Tensor) or not isinstance(indices, torch.Tensor):
        raise TypeError(
            "`outputs` and `indices` must be torch tensors. "
            f"Received: outputs={type(outputs).__name__}, indices={type(indices).__name__}"
        )
    if indices.dtype.is_floating_point or indices.dtype == torch.bool or indices.dim() != 1:
        raise TypeError(f"`indices` must be a 1-D integer tensor. Received: {indices.dtype}, "
                        f"shape={tuple(indices.shape)}")
    if outputs.shape[0] != indices.shape[0]:
        raise ValueError(
            "`outputs` and `indices` must have the same length. "
            f"Received: outputs.shape={tuple(outputs.shape)}, indices.shape={tuple(indices.shape)}"
        )
    idx = indices.to(device=outputs.device, dtype=torch.int64)
    if is_distributed():
        outputs = torch.cat(_all_gather_rows(outputs))
        idx = torch.cat(_all_gather_rows(idx))
    return _dedupe_in_order(outputs, idx, dataset_len)


def _dedupe_in_order(outputs: torch.Tensor, idx: torch.Tensor,
                     dataset_len: int | None) -> torch.Tensor:
    """Rows sorted by index, first occurrence of each index kept."""
    order = torch.argsort(idx, stable=True)
    sorted_idx = idx[order]
    keep = torch.ones_like(sorted_idx, dtype=torch.bool)
    keep[1:] = sorted_idx[1:] != sorted_idx[:-1]
    unique, rows = sorted_idx[keep], outputs[order[keep]]
    if dataset_len is not None:
        expected = torch.arange(int(dataset_len), device=unique.device)
        if unique.shape != expected.shape or not torch.equal(unique, expected):
            missing = int(dataset_len) - int(((unique >= 0) & (unique < dataset_len)).sum())
            raise ValueError(
                f"Predictions do not cover the dataset: expected indices 0..{dataset_len - 1}, "
                f"got {unique.numel()} distinct indices ({missing} missing, range "
                f"{int(unique.min()) if unique.numel() else None}.."
                f"{int(unique.max()) if unique.numel() else None})."
            )
    return rows
