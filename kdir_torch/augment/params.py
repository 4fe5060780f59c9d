"""Per-sample augmentation parameters: the "draw" half of draw-then-apply.

An :class:`AugmentParams` holds one value per sample for every key of Keras's
``get_random_transform`` dict (keras-semantics §A10), as ``(B,)`` tensors. Replaying the same
params replays the same pixels (DESIGN.md "Draw, then apply").

Optional per-sample operations (channel shift, brightness) are ``None`` when no sample of
the batch uses them; inside a tensor, ``NaN`` marks a sample that skips the operation (the
Keras dict value ``None``), which lets batches built from heterogeneous dicts be concatenated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor

_FLOAT_FIELDS = ("theta", "tx", "ty", "shear", "zx", "zy")
_BOOL_FIELDS = ("flip_horizontal", "flip_vertical")
_OPTIONAL_FIELDS = ("channel_shift_intensity", "brightness")
# Keras's defaults for keys missing from a transform dict (keras-semantics §A11).
_DEFAULTS = {"theta": 0.0, "tx": 0.0, "ty": 0.0, "shear": 0.0, "zx": 1.0, "zy": 1.0}


def _as_1d(name: str, value: Any, dtype: torch.dtype) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor. Received: {name}={value!r}")
    if value.dim() != 1:
        raise ValueError(f"`{name}` must be 1-D (B,). Received shape: {tuple(value.shape)}")
    return value.to(dtype)


@dataclass(frozen=True)
class AugmentParams:
    """Augmentation parameters of a batch of ``B`` samples (Keras semantics, §A10/§A11).

    Attributes:
        theta: ``(B,)`` float64, rotation in degrees (positive = counter-clockwise).
        tx: ``(B,)`` float64, pixels; Keras's ``tx``, drawn from ``height_shift_range``.
        ty: ``(B,)`` float64, pixels; Keras's ``ty``, drawn from ``width_shift_range``.
        shear: ``(B,)`` float64, shear angle in degrees.
        zx: ``(B,)`` float64, horizontal zoom (``< 1`` zooms in).
        zy: ``(B,)`` float64, vertical zoom.
        flip_horizontal: ``(B,)`` bool.
        flip_vertical: ``(B,)`` bool.
        channel_shift_intensity: ``(B,)`` float64 (``NaN`` = none for that sample) or None.
        brightness: ``(B,)`` float64 (``NaN`` = none for that sample) or None.

    Raises:
        TypeError: if a field is not a tensor (optional fields may be None).
        ValueError: if a field is not 1-D or the lengths differ.
    """

    theta: Tensor
    tx: Tensor
    ty: Tensor
    shear: Tensor
    zx: Tensor
    zy: Tensor
    flip_horizontal: Tensor
    flip_vertical: Tensor
    channel_shift_intensity: Tensor | None = None
    brightness: Tensor | None = None

    def __post_init__(self) -> None:
        for name in _FLOAT_FIELDS:
            object.__setattr__(self, name, _as_1d(name, getattr(self, name), torch.float64))
        for name in _BOOL_FIELDS:
            object.__setattr__(self, name, _as_1d(name, getattr(self, name), torch.bool))
        for name in _OPTIONAL_FIELDS:
            if getattr(self, name) is not None:
                object.__setattr__(self, name, _as_1d(name, getattr(self, name), torch.float64))
        lengths = {f.name: len(v) for f in fields(self) if (v := getattr(self, f.name)) is not None}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"All AugmentParams fields must have the same length. Received: {lengths}")

    def __len__(self) -> int:
        return int(self.theta.shape[0])

    def _map(self, fn: Any) -> AugmentParams:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return AugmentParams(**{k: (None if v is None else fn(v)) for k, v in values.items()})

    def to(self, device: torch.device | str) -> AugmentParams:
        """The same parameters with every tensor on ``device`` (``self`` when already there)."""
        device = torch.device(device)
        if all(t is None or t.device == device for t in (getattr(self, f.name) for f in fields(self))):
            return self
        return self._map(lambda t: t.to(device))

    def __getitem__(self, index: int | slice | Sequence[int] | Tensor) -> AugmentParams:
        """Parameters of a subset of samples (an int gives a batch of one)."""
        if isinstance(index, int):
            if not -len(self) <= index < len(self):
                raise IndexError(f"index {index} is out of range for {len(self)} samples")
            index = slice(index % len(self), index % len(self) + 1)
        if not isinstance(index, slice):
            index = torch.as_tensor(index, device=self.theta.device)
            if index.dtype != torch.bool:
                index = index.long()
        return self._map(lambda t: t[index])

    @classmethod
    def identity(cls, n: int, device: torch.device | str = "cpu") -> AugmentParams:
        """``n`` samples with no augmentation (Keras's defaults for missing keys)."""

        def full(value: float) -> Tensor:
            return torch.full((n,), value, dtype=torch.float64, device=device)

        no_flip = torch.zeros(n, dtype=torch.bool, device=device)
        return cls(full(0.0), full(0.0), full(0.0), full(0.0), full(1.0), full(1.0), no_flip, no_flip.clone())

    @classmethod
    def from_keras_dicts(cls, dicts: Sequence[Mapping[str, Any]]) -> AugmentParams:
        """Batch Keras ``get_random_transform`` dicts; missing keys mean identity (§A11).

        Args:
            dicts: one mapping per sample with any of the Keras keys.

        Returns:
            AugmentParams on the CPU.

        Raises:
            TypeError: if an element is not a mapping.
        """
        for d in dicts:
            if not isinstance(d, Mapping):
                raise TypeError(f"Each transform must be a dict. Received: {d!r}")
        cols: dict[str, Any] = {}
        for name in _FLOAT_FIELDS:
            cols[name] = torch.tensor(
                [float(d.get(name, _DEFAULTS[name])) for d in dicts], dtype=torch.float64
            )
        for name in _BOOL_FIELDS:
            cols[name] = torch.tensor([bool(d.get(name, False)) for d in dicts], dtype=torch.bool)
        for name in _OPTIONAL_FIELDS:
            vals = [d.get(name) for d in dicts]
            if all(v is None for v in vals):
                cols[name] = None
            else:
                cols[name] = torch.tensor(
                    [math.nan if v is None else float(v) for v in vals], dtype=torch.float64
                )
        return cls(**cols)

    def to_keras_dict(self, i: int) -> dict[str, Any]:
        """Sample ``i`` as a Keras transform dict (Python floats, 0/1 flips, None).

        Raises:
            IndexError: if ``i`` is out of range.
        """
        p = self[i].to("cpu")
        out: dict[str, Any] = {name: float(getattr(p, name)[0]) for name in _FLOAT_FIELDS}
        for name in _BOOL_FIELDS:
            out[name] = int(getattr(p, name)[0])
        for name in _OPTIONAL_FIELDS:
            t = getattr(p, name)
            out[name] = None if t is None or math.isnan(float(t[0])) else float(t[0])
        return out

    @classmethod
    def cat(cls, parts: Sequence[AugmentParams]) -> AugmentParams:
        """Concatenate batches (an optional field missing from a part becomes ``NaN``).

        Raises:
            TypeError: if a part is not an AugmentParams.
        """
        parts = list(parts)
        for p in parts:
            if not isinstance(p, AugmentParams):
                raise TypeError(f"`parts` must contain AugmentParams. Received: {type(p).__name__}")
        if not parts:
            return cls.identity(0)
        cols: dict[str, Any] = {}
        for name in _FLOAT_FIELDS + _BOOL_FIELDS:
            cols[name] = torch.cat([getattr(p, name) for p in parts])
        for name in _OPTIONAL_FIELDS:
            if all(getattr(p, name) is None for p in parts):
                cols[name] = None
                continue
            cols[name] = torch.cat([_or_nan(getattr(p, name), p.theta) for p in parts])
        return cls(**cols)


def _or_nan(t: Tensor | None, like: Tensor) -> Tensor:
    return torch.full_like(like, math.nan) if t is None else t
