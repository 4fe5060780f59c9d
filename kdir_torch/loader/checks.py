"""Argument checks of ``make_loader`` (Keras-shaped messages, DESIGN.md "Errors and bad input")."""

from __future__ import annotations

import os
from numbers import Real
from typing import Any

import torch

from .._validation import check_bool
from .distributed import is_distributed

AUGMENT_ON = ("device", "worker")
MAX_DEFAULT_WORKERS = 8


def check_dataset(dataset: Any) -> None:
    """The dataset must speak the loader protocol (``load_raw``, ``finish_batch``, ``len``).

    Raises:
        TypeError: a method is missing.
    """
    missing = [m for m in ("load_raw", "finish_batch", "__len__") if not hasattr(dataset, m)]
    if missing:
        raise TypeError(
            "`dataset` must provide load_raw(i), finish_batch(raw, indices, *, epoch) and "
            f"__len__ (e.g. kdir_torch.KerasDirDataset); missing {missing}. "
            f"Received: dataset={type(dataset).__name__}"
        )


def check_int(name: str, value: Any, minimum: int, allow_none: bool = False) -> int | None:
    """An int ``>= minimum`` (bools rejected), or None when allowed.

    Raises:
        TypeError: not an int.
        ValueError: below ``minimum``.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        kind = "an integer or None" if allow_none else "an integer"
        raise TypeError(f"`{name}` must be {kind}. Received: {name}={value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}. Received: {name}={value}")
    return value


def check_batch_size(batch_size: Any, num_samples: int | None = None) -> int:
    """``batch_size >= 1``, or 0 for an empty dataset only.

    Keras takes ``batch_size=0`` without a check: on an empty directory ``next(it)`` yields
    its empty batch (the case Keras's own tests use), on any other the iterator yields empty
    batches forever and ``len(it)`` divides by zero. We accept 0 only where it means
    something (an empty dataset: 0 batches per epoch, ``next(it)`` the empty batch).

    Args:
        batch_size: the value to check.
        num_samples: dataset size; None before the dataset is listed (0 then passes).

    Raises:
        TypeError: not an int (bools rejected).
        ValueError: negative, or 0 for a dataset with samples.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"`batch_size` must be an integer. Received: batch_size={batch_size!r}")
    if batch_size < 0 or (batch_size == 0 and num_samples):
        where = f" for {num_samples} samples" if batch_size == 0 else ""
        raise ValueError("`batch_size` must be >= 1 (0 is accepted only for an empty dataset). "
                         f"Received: batch_size={batch_size}{where}")
    return batch_size


def resolve_device(device: Any) -> torch.device:
    """``device`` as a ``torch.device`` (CPU for None).

    Raises:
        TypeError: not None/str/``torch.device``.
        ValueError: unparsable, or CUDA requested without an available CUDA device.
    """
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"`device` must be None, a str or a torch.device. Received: device={device!r}")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"`device` is not a valid device. Received: device={device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"`device` is {str(dev)!r} but CUDA is not available. Received: "
                         f"device={device!r}")
    return dev


def default_num_workers() -> int:
    """Cores this process may run on (``sched_getaffinity``), capped at 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(0, min(cores, MAX_DEFAULT_WORKERS))


def check_memory_format(dataset: Any, channels_last: bool) -> None:
    """``channels_last`` (memory format) only makes sense for ``(B, C, H, W)`` batches.

    Raises:
        ValueError: ``channels_last=True`` with a ``data_format="channels_last"`` dataset.
    """
    if channels_last and getattr(dataset, "data_format", None) == "channels_last":
        raise ValueError(
            "`channels_last=True` asks for the channels_last memory format of (B, C, H, W) "
            "batches, but the dataset already yields (B, H, W, C) (data_format="
            "'channels_last'). Received: channels_last=True"
        )


def check_augment_on(augment_on: Any) -> str:
    """``"device"`` or ``"worker"``."""
    if augment_on not in AUGMENT_ON:
        raise ValueError(
            f"`augment_on` must be one of {AUGMENT_ON}. Received: augment_on={augment_on!r}"
        )
    return augment_on


def check_timeout(timeout: Any) -> float:
    """A real number of seconds ``>= 0`` (0 = wait forever)."""
    if isinstance(timeout, bool) or not isinstance(timeout, Real):
        raise TypeError(f"`timeout` must be a number of seconds. Received: timeout={timeout!r}")
    if timeout < 0:
        raise ValueError(f"`timeout` must be >= 0. Received: timeout={timeout}")
    return float(timeout)


def resolve_distributed(distributed: Any) -> bool:
    """``distributed`` flag, auto-detected when None.

    Raises:
        TypeError: not None/bool.
        ValueError: True without an initialised ``torch.distributed`` process group.
    """
    flag = check_bool("distributed", distributed, allow_none=True)
    if flag is None:
        return is_distributed()
    if flag and not is_distributed():
        raise ValueError(
            "`distributed=True` needs an initialised torch.distributed process group "
            "(call torch.distributed.init_process_group first, e.g. under torchrun). "
            "Received: distributed=True"
        )
    return flag


def dataloader_options(num_workers: Any, pin_memory: Any, device: torch.device,
                       persistent_workers: Any, prefetch_factor: Any,
                       timeout: Any) -> dict[str, Any]:
    """Checked ``DataLoader`` keyword arguments with kdir_torch's defaults.

    ``num_workers`` None -> ``default_num_workers()``; ``pin_memory`` None -> CUDA target;
    ``persistent_workers`` None -> ``num_workers > 0``; ``timeout`` is checked and returned
    for the read deadline (it applies to any worker count, see ``reading.py``).

    Returns:
        dict with ``num_workers``, ``pin_memory``, ``timeout``, ``persistent_workers`` and
        ``prefetch_factor``.

    Raises:
        TypeError / ValueError: a bad value, or worker options together with
            ``num_workers=0``.
    """
    workers = check_int("num_workers", num_workers, 0, allow_none=True)
    workers = default_num_workers() if workers is None else workers
    pin = check_bool("pin_memory", pin_memory, allow_none=True)
    persistent = check_bool("persistent_workers", persistent_workers, allow_none=True)
    prefetch = check_int("prefetch_factor", prefetch_factor, 1, allow_none=True)
    wait = check_timeout(timeout)
    if workers == 0 and (persistent or prefetch is not None):
        raise ValueError(
            "`persistent_workers` and `prefetch_factor` need `num_workers` > 0. Received: "
            f"num_workers=0, persistent_workers={persistent_workers}, "
            f"prefetch_factor={prefetch_factor}"
        )
    return {
        "num_workers": workers,
        "pin_memory": device.type == "cuda" if pin is None else pin,
        "timeout": wait,
        "persistent_workers": workers > 0 if persistent is None else persistent,
        "prefetch_factor": prefetch,
    }
