"""``Augment``: Keras's ``ImageDataGenerator`` augmentations as a batched ``torch.nn.Module``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from kdir_torch import _rng
from kdir_torch.augment import _draws as d
from kdir_torch.augment import functional as F
from kdir_torch.augment.params import AugmentParams


class Augment(torch.nn.Module):
    """Random Keras-style augmentation of ``(B, C, H, W)`` (or ``(C, H, W)``) float batches.

    Arguments mean what they mean in Keras's ``ImageDataGenerator`` (keras-semantics §A10/§A11).
    Parameters of sample ``i`` are a pure function of ``(seed, epoch, i)``: the same for any
    batch composition, worker count or device. Geometry follows Keras's documentation unless
    ``keras_quirks=True`` (see :mod:`kdir_torch.augment.functional`).

    Args:
        rotation_range: degrees; ``theta ~ U(-r, r)``.
        width_shift_range: float (fraction of width if < 1, else pixels), int (pixels picked
            from ``0..n-1`` with a random sign) or list of values (picked, random sign).
        height_shift_range: the same for the height.
        brightness_range: ``(lo, hi)``; factor ``~ U(lo, hi)``; None disables.
        shear_range: degrees; ``shear ~ U(-s, s)``.
        zoom_range: float ``z`` (-> ``[1-z, 1+z]``) or ``(lo, hi)``; zx and zy independent.
        channel_shift_range: intensity ``~ U(-c, c)``.
        fill_mode: ``constant``, ``nearest``, ``reflect`` or ``wrap``.
        cval: fill value for ``constant``.
        horizontal_flip: flip columns with probability 1/2. vertical_flip: rows, likewise.
        interpolation_order: 0 (nearest) or 1 (bilinear).
        keras_quirks: reproduce Keras 3's actual geometry (axis swap, off-centre).
        seed: int, or None to draw one from torch's default generator now
            (``kdir_torch._rng.fresh_seed``; ``torch.manual_seed`` makes it reproducible);
            ``make_loader`` gives an unseeded ``Augment`` its own seed instead (``seeded``).

    Raises:
        ValueError: for bad values (Keras's texts for ``zoom_range``/``brightness_range``).
        TypeError: for values of the wrong type.
    """

    def __init__(
        self,
        rotation_range: float = 0.0,
        width_shift_range: Any = 0.0,
        height_shift_range: Any = 0.0,
        brightness_range: Any = None,
        shear_range: float = 0.0,
        zoom_range: Any = 0.0,
        channel_shift_range: float = 0.0,
        fill_mode: str = "nearest",
        cval: float = 0.0,
        horizontal_flip: bool = False,
        vertical_flip: bool = False,
        interpolation_order: int = 1,
        keras_quirks: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.rotation_range = d.check_real("rotation_range", rotation_range)
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self._width_shift = d.check_shift_range("width_shift_range", width_shift_range)
        self._height_shift = d.check_shift_range("height_shift_range", height_shift_range)
        self.brightness_range = d.check_brightness_range(brightness_range)
        self.shear_range = d.check_real("shear_range", shear_range)
        self.zoom_range = d.check_zoom_range(zoom_range)
        self.channel_shift_range = d.check_real("channel_shift_range", channel_shift_range)
        if fill_mode not in d.FILL_MODES:
            raise ValueError(f"`fill_mode` must be one of {d.FILL_MODES}. Received: fill_mode={fill_mode!r}")
        self.fill_mode = fill_mode
        self.cval = d.check_real("cval", cval)
        self.horizontal_flip = d.check_bool("horizontal_flip", horizontal_flip)
        self.vertical_flip = d.check_bool("vertical_flip", vertical_flip)
        if isinstance(interpolation_order, bool) or interpolation_order not in (0, 1):
            raise ValueError(
                "`interpolation_order` must be 0 (nearest) or 1 (bilinear); only orders 0 and 1 "
                f"are supported. Received: interpolation_order={interpolation_order!r}"
            )
        self.interpolation_order = int(interpolation_order)
        self.keras_quirks = d.check_bool("keras_quirks", keras_quirks)
        self.seed = _rng.resolve_seed(seed)
        self.seeded = seed is not None

    @property
    def is_identity(self) -> bool:
        """True when no augmentation is configured (``forward`` then copies its input)."""
        return not (
            self.rotation_range
            or self._width_shift.active
            or self._height_shift.active
            or self.shear_range
            or self.zoom_range != (1.0, 1.0)
            or self.horizontal_flip
            or self.vertical_flip
            or self.channel_shift_range != 0
            or self.brightness_range is not None
        )

    def make_params(
        self, image_hw: tuple[int, int], indices: Any, *, epoch: int = 0, seed: int | None = None
    ) -> AugmentParams:
        """Draw the parameters of samples ``indices`` (keras-semantics §A10 distributions).

        Args:
            image_hw: ``(H, W)``; fractional shifts scale ``tx`` by H and ``ty`` by W.
            indices: ``(B,)`` ints, the dataset indices of the samples.
            epoch: epoch number (new epoch, new draws).
            seed: overrides ``self.seed`` when given.

        Returns:
            AugmentParams on the CPU.

        Raises:
            ValueError / TypeError: for bad ``image_hw`` or ``indices``.
        """
        h, w = d.check_image_hw(image_hw)
        seed = self.seed if seed is None else _rng.resolve_seed(seed)
        draws = d.Draws(seed, int(epoch), d.as_indices(indices))
        z0, z1 = self.zoom_range
        zoom = self.zoom_range != (1.0, 1.0)
        n = len(draws.indices)
        cols: dict[str, Any] = {
            "theta": draws.symmetric(self.rotation_range, d.STREAM_THETA),
            "tx": draws.shift(self._height_shift, h, d.STREAM_TX_VALUE, d.STREAM_TX_SIGN),
            "ty": draws.shift(self._width_shift, w, d.STREAM_TY_VALUE, d.STREAM_TY_SIGN),
            "shear": draws.symmetric(self.shear_range, d.STREAM_SHEAR),
            "zx": draws.uniform(z0, z1, d.STREAM_ZX) if zoom else np.ones(n),
            "zy": draws.uniform(z0, z1, d.STREAM_ZY) if zoom else np.ones(n),
            "flip_horizontal": draws.flips(self.horizontal_flip, d.STREAM_FLIP_H),
            "flip_vertical": draws.flips(self.vertical_flip, d.STREAM_FLIP_V),
            "channel_shift_intensity": None,
            "brightness": None,
        }
        if self.channel_shift_range != 0:
            c = self.channel_shift_range
            cols["channel_shift_intensity"] = draws.uniform(-c, c, d.STREAM_CHANNEL_SHIFT)
        if self.brightness_range is not None:
            cols["brightness"] = draws.uniform(*self.brightness_range, d.STREAM_BRIGHTNESS)
        return AugmentParams(
            **{k: None if v is None else torch.from_numpy(np.asarray(v)) for k, v in cols.items()}
        )

    def apply(self, x: Tensor, params: AugmentParams) -> Tensor:
        """Apply ``params`` to ``x`` (``(B, C, H, W)`` or ``(C, H, W)``, any device).

        Returns:
            New tensor with x's shape, dtype and device; identity samples are untouched.
        """
        return F.apply(
            x,
            params,
            order=self.interpolation_order,
            fill_mode=self.fill_mode,
            cval=self.cval,
            keras_quirks=self.keras_quirks,
        )

    def forward(self, x: Tensor, indices: Any = None, *, epoch: int = 0, seed: int | None = None) -> Tensor:
        """``apply(x, make_params(x.shape[-2:], indices, epoch=epoch, seed=seed))``.

        Args:
            x: ``(B, C, H, W)`` or ``(C, H, W)`` floating tensor.
            indices: ``(B,)`` dataset indices; None means ``arange(B)``.
            epoch: epoch number. seed: overrides ``self.seed``.

        Returns:
            The augmented batch (a new tensor).

        Raises:
            TypeError: if ``x`` is not a floating tensor.
            ValueError: for a bad rank, or if ``len(indices)`` differs from the batch size.
        """
        if not isinstance(x, Tensor):
            raise TypeError(f"`x` must be a torch.Tensor. Received: {type(x).__name__}")
        if x.dim() not in (3, 4):
            raise ValueError(f"`x` must be (B, C, H, W) or (C, H, W). Received shape: {tuple(x.shape)}")
        b = x.shape[0] if x.dim() == 4 else 1
        idx = np.arange(b) if indices is None else d.as_indices(indices)
        if len(idx) != b:
            raise ValueError(f"`indices` has {len(idx)} entries but `x` has {b} samples.")
        if self.is_identity:
            return F.apply(x, AugmentParams.identity(b))
        return self.apply(x, self.make_params(tuple(x.shape[-2:]), idx, epoch=epoch, seed=seed))

    def extra_repr(self) -> str:
        defaults = Augment.__init__.__defaults__ or ()
        names = Augment.__init__.__code__.co_varnames[1 : 1 + len(defaults)]
        parts = []
        for name, default in zip(names, defaults, strict=True):
            if name == "seed":
                continue
            value = getattr(self, name)
            if name == "zoom_range" and value == (1.0, 1.0):
                continue
            if value != default:
                parts.append(f"{name}={value!r}")
        return ", ".join(parts + [f"seed={self.seed}"])
