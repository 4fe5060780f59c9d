"""``kt.predict``: a model's outputs for every sample, in dataset (``filenames``) order.

The loader yields the dataset index of every sample (``return_indices``), the outputs are put
back in index order, and under DDP every rank's share is all-gathered
(``gather_predictions``, which also drops the padding repeats). So row ``i`` belongs to
``dataset.filenames[i]`` whatever the shuffle, the worker count or the world size, and
``ds.decode_predictions(kt.predict(model, ds).softmax(1))`` names each file's classes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist

from .distributed import _dedupe_in_order, gather_predictions, is_distributed
from .factory import make_loader
from .loader import DeviceLoader
from .sampler import SeededSampler

Outputs = torch.Tensor | tuple[torch.Tensor, ...]


def _check_covers(loader: DeviceLoader) -> None:
    """A loader whose epoch reads every sample (at least) once."""
    if type(loader.sampler) is not SeededSampler:
        raise ValueError(
            "kt.predict needs a loader that reads every sample once per epoch; this one "
            f"draws its epochs with {type(loader.sampler).__name__} (max_per_class, balance "
            "or sampler). Pass the dataset itself or a plain make_loader(ds, shuffle=False)."
        )
    plan = loader._plan
    if plan.drop_last and len(loader.sampler) % plan.batch_size:
        raise ValueError("kt.predict needs drop_last=False: a dropped batch has no outputs.")


def _model_call(model: Callable[[torch.Tensor], Any], x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    out = model(x)
    if isinstance(out, torch.Tensor):
        return (out.detach(),)
    if isinstance(out, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in out):
        return tuple(t.detach() for t in out)
    raise TypeError("kt.predict needs a model returning a tensor (or a tuple of tensors) per "
                    f"batch. Received: {type(out).__name__}")


def predict(model: Callable[[torch.Tensor], Any], data: Any,
            device: str | torch.device | None = None, *, batch_size: int = 32,
            num_workers: int | None = None) -> Outputs:
    """Run ``model`` over every sample of ``data``; rows in dataset (``filenames``) order.

    An ``nn.Module`` runs in ``eval()`` mode (restored afterwards) under ``torch.no_grad``.
    Under an initialised process group with a distributed loader (the default of
    ``make_loader``) each rank runs its shard and every rank gets the whole result.

    Args:
        model: callable ``(B, ...) -> (B, ...)`` tensor (or tuple of tensors).
        data: a ``DeviceLoader`` from ``make_loader`` (shuffled or not; it runs its next
            epoch), a kdir_torch dataset, a ``kt.split`` part or a ``Subset`` of one (a
            loader with ``shuffle=False`` is built for it).
        device: where the model runs (None: the loader's device, CPU for a dataset).
        batch_size: batch size of the loader built for a dataset.
        num_workers: decoding processes of the loader built for a dataset (None: as
            ``make_loader``).

    Returns:
        CPU tensor ``(len(dataset), ...)`` (a tuple of them for a tuple-returning model);
        row ``i`` is the output for ``dataset.filenames[i]``.

    Raises:
        TypeError: a ``DataLoader`` (it does not report sample indices) or a bad model output.
        ValueError: a loader that skips samples (balanced, custom sampler, ``drop_last``,
            files skipped under ``on_error="skip"``).
    """
    if isinstance(data, torch.utils.data.DataLoader):
        raise TypeError("kt.predict needs a kt.make_loader loader or a dataset: a plain "
                        "DataLoader does not tell which sample each output belongs to.")
    loader = data if isinstance(data, DeviceLoader) else make_loader(
        data, batch_size=batch_size, shuffle=False, num_workers=num_workers, device=device)
    _check_covers(loader)
    target = torch.device(device) if device is not None else loader.device
    training = model.training if isinstance(model, torch.nn.Module) else None
    outputs: list[tuple[torch.Tensor, ...]] = []
    indices: list[torch.Tensor] = []
    keep_indices, loader.return_indices = loader.return_indices, True
    try:
        if training is not None:
            model.eval()
        with torch.no_grad():
            for batch in loader:
                outputs.append(_model_call(model, batch[0].to(target)))
                indices.append(batch[-1])
    finally:
        loader.return_indices = keep_indices
        if training:
            model.train()
    return _assemble(outputs, indices, len(loader.dataset), loader.sampler.num_replicas > 1)


def _assemble(outputs: list[tuple[torch.Tensor, ...]], indices: list[torch.Tensor], n: int,
              sharded: bool) -> Outputs:
    """Every output column in index order (gathered over the ranks when ``sharded``)."""
    if not outputs:
        raise ValueError(f"kt.predict got no batches for a dataset of {n} samples.")
    gather = sharded and is_distributed()
    on_device = gather and dist.get_backend() == "nccl"
    idx = torch.cat([i.cpu() for i in indices])
    columns = []
    for parts in zip(*outputs):
        out = torch.cat([p if on_device else p.cpu() for p in parts])
        where = idx.to(out.device)
        rows = gather_predictions(out, where, n) if gather else _dedupe_in_order(out, where, n)
        columns.append(rows.cpu())
    return columns[0] if len(columns) == 1 else tuple(columns)
