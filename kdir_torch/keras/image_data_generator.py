"""Keras's legacy ``ImageDataGenerator``, composed of an ``Augment`` and a ``Standardizer``.

Every constructor argument of Keras 3's ``ImageDataGenerator`` with its default (keras-semantics
§A1), Keras's validation and messages (§A16), and the methods Keras exposes
(``get_random_transform``, ``apply_transform``, ``random_transform``, ``standardize``,
``fit``, and the ``flow*`` methods of :mod:`kdir_torch.keras.flows`). The maths lives in :mod:`kdir_torch.augment` and
:mod:`kdir_torch.standardize`; this facade only converts layouts and forwards.

Differences from Keras, by design (DESIGN.md):

* Randomness is ours: draws come from ``kdir_torch._rng`` keyed by ``seed`` (the keyword-only
  constructor argument; when None, one drawn from torch's default generator, as
  ``DataLoader`` does), never from numpy's global state, so Keras's
  random streams are not replayed. ``get_random_transform(shape, seed=s)`` is deterministic.
* Geometry follows Keras's documentation unless ``keras_quirks=True`` (then Keras 3's pixels,
  §A11). ``keras_quirks=True`` also makes ``standardize`` on a batch take samplewise
  statistics over the whole array, as Keras does; by default they are per image.
* Methods return new arrays (numpy in, numpy out; tensor in, tensor out); nothing is modified
  in place. Fitted statistics (``mean``, ``std``, ``zca_whitening_matrix``) are tensors.
* ``dtype`` is a ``torch.dtype`` (``None`` -> float32; Keras dtype strings are accepted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from kdir_torch._rng import derive_seed, resolve_seed
from kdir_torch._validation import check_bool, check_data_format, check_legacy_split
from kdir_torch.augment import Augment, AugmentParams
from kdir_torch.augment._draws import check_brightness_range, check_zoom_range
from kdir_torch.keras._idg_helpers import (
    AUGMENT_ARGS,
    STANDARDIZE_ATTRS,
    delegated_property,
    image_hw,
    read_only_property,
    same_kind,
)
from kdir_torch.keras.flows import FlowMethods
from kdir_torch.standardize import Standardizer, as_float_tensor

__all__ = ["ImageDataGenerator"]

_ADHOC_TAG = 0xAD0C  # seed-derivation counter for unseeded get_random_transform draws

class ImageDataGenerator(FlowMethods):
    """Keras's ``ImageDataGenerator`` for PyTorch (keras-semantics §A1, §A10-§A12, §A16).

    Args:
        featurewise_center ... dtype: Keras 3's constructor arguments and defaults (§A1);
            ``data_format=None`` means "channels_last" (Keras's default config).
        keras_quirks: reproduce Keras 3's actual augmentation pixels (§A11) and its
            whole-array samplewise statistics in ``standardize``.
        seed: seed of every random draw (``None``: drawn from torch's default generator,
            so ``torch.manual_seed`` makes the run reproducible).

    Raises:
        ValueError: bad ``data_format``, ``validation_split``, ``zoom_range`` or
            ``brightness_range`` (Keras's texts), or a value the augmenter rejects.
        TypeError: a wrongly typed argument.

    Warns:
        UserWarning: Keras's flag-coupling warnings (``zca_whitening``,
            ``featurewise_std_normalization``, ``samplewise_std_normalization``).
    """

    def __init__(
        self,
        featurewise_center: bool = False,
        samplewise_center: bool = False,
        featurewise_std_normalization: bool = False,
        samplewise_std_normalization: bool = False,
        zca_whitening: bool = False,
        zca_epsilon: float = 1e-6,
        rotation_range: float = 0,
        width_shift_range: float | int | Sequence[float] = 0.0,
        height_shift_range: float | int | Sequence[float] = 0.0,
        brightness_range: Sequence[float] | None = None,
        shear_range: float = 0.0,
        zoom_range: float | Sequence[float] = 0.0,
        channel_shift_range: float = 0.0,
        fill_mode: str = "nearest",
        cval: float = 0.0,
        horizontal_flip: bool = False,
        vertical_flip: bool = False,
        rescale: float | None = None,
        preprocessing_function: Callable[[np.ndarray], Any] | None = None,
        data_format: str | None = None,
        validation_split: float = 0.0,
        interpolation_order: int = 1,
        dtype: torch.dtype | str | None = None,
        *,
        keras_quirks: bool = False,
        seed: int | None = None,
    ) -> None:
        data_format = "channels_last" if data_format is None else data_format
        self.data_format = check_data_format(data_format)
        first = self.data_format == "channels_first"
        self.channel_axis, self.row_axis, self.col_axis = (1, 2, 3) if first else (3, 1, 2)
        check_legacy_split(validation_split)
        self._validation_split = validation_split
        zoom = list(check_zoom_range(zoom_range))
        self._standardizer = Standardizer(
            featurewise_center=featurewise_center, samplewise_center=samplewise_center,
            featurewise_std_normalization=featurewise_std_normalization,
            samplewise_std_normalization=samplewise_std_normalization,
            zca_whitening=zca_whitening, zca_epsilon=zca_epsilon, rescale=rescale,
            preprocessing_function=preprocessing_function, data_format=self.data_format,
            dtype=dtype,
        )
        check_brightness_range(brightness_range)
        self.dtype = self._standardizer.dtype
        self.keras_quirks = check_bool("keras_quirks", keras_quirks)
        self.seed = resolve_seed(seed)
        self._augment_config = {
            "rotation_range": rotation_range, "width_shift_range": width_shift_range,
            "height_shift_range": height_shift_range, "brightness_range": brightness_range,
            "shear_range": shear_range, "zoom_range": zoom,
            "channel_shift_range": channel_shift_range, "fill_mode": fill_mode, "cval": cval,
            "horizontal_flip": horizontal_flip, "vertical_flip": vertical_flip,
            "interpolation_order": interpolation_order,
        }
        self._augment = Augment(
            **{**self._augment_config, "zoom_range": tuple(zoom)},
            keras_quirks=self.keras_quirks, seed=self.seed,
        )
        self._draws = 0  # index of the next unseeded get_random_transform draw

    @property
    def augment(self) -> Augment:
        """The channels-first :class:`~kdir_torch.augment.Augment` doing the augmentation."""
        return self._augment

    @property
    def standardizer(self) -> Standardizer:
        """The :class:`~kdir_torch.standardize.Standardizer` doing the normalization."""
        return self._standardizer

    # -- Keras methods -----------------------------------------------------------------------
    def get_random_transform(
        self, img_shape: Sequence[int], seed: int | None = None
    ) -> dict[str, Any]:
        """Draw one set of transform parameters (keras-semantics §A10).

        Args:
            img_shape: shape of the single image, in ``data_format`` (3 ints).
            seed: with a seed the draw is a pure function of it; None draws the next value
                of this generator's own counter-based stream (seeded by ``self.seed``).

        Returns:
            Keras's dict: theta, tx, ty, shear, zx, zy, flip_horizontal, flip_vertical,
            channel_shift_intensity, brightness (floats, 0/1 ints or None).

        Raises:
            ValueError: ``img_shape`` is not 3 positive ints.
            TypeError: ``seed`` is not an int.
        """
        hw = image_hw(img_shape, self.row_axis, self.col_axis)
        if seed is None:
            index, draw_seed = self._draws, derive_seed(self.seed, _ADHOC_TAG)
            self._draws += 1
        else:
            index, draw_seed = 0, resolve_seed(seed)
        indices = torch.tensor([index], dtype=torch.int64)
        params = self._augment.make_params(hw, indices, epoch=0, seed=draw_seed)
        return params.to_keras_dict(0)

    def apply_transform(self, x: Any, transform_parameters: Mapping[str, Any]) -> Any:
        """Apply a Keras parameter dict to one image (keras-semantics §A11); missing keys = identity.

        Args:
            x: one image in ``data_format`` (``(H, W, C)`` or ``(C, H, W)``), numpy or tensor.
            transform_parameters: a dict as returned by :meth:`get_random_transform`.

        Returns:
            The transformed image, same shape and kind (numpy or tensor) as ``x``; floating
            (non-floating input is converted to ``dtype``).

        Raises:
            ValueError: ``x`` is not rank 3.
        """
        t = self._single_image(x)
        cf = t if self.data_format == "channels_first" else t.permute(2, 0, 1)
        params = AugmentParams.from_keras_dicts([transform_parameters]).to(t.device)
        out = self._augment.apply(cf, params)
        out = out if self.data_format == "channels_first" else out.permute(1, 2, 0)
        return same_kind(out, x)

    def random_transform(self, x: Any, seed: int | None = None) -> Any:
        """``apply_transform(x, get_random_transform(x.shape, seed))`` (keras-semantics §A10-§A11).

        Args:
            x: one image in ``data_format``, numpy or tensor.
            seed: as in :meth:`get_random_transform`.

        Returns:
            The randomly transformed image, same shape and kind as ``x``.
        """
        return self.apply_transform(x, self.get_random_transform(tuple(np.shape(x)), seed))

    def standardize(self, x: Any) -> Any:
        """Normalize one image or a batch in Keras's order (keras-semantics §A12).

        Args:
            x: ``(H, W, C)``/``(C, H, W)`` or a batch ``(B, ...)`` in ``data_format``.

        Returns:
            Standardized copy, same shape and kind (numpy or tensor) as ``x``. Samplewise
            statistics are per image, or over the whole array with ``keras_quirks=True``.

        Raises:
            ValueError: ``x`` is not rank 3 or 4.
        """
        out = self._standardizer.standardize(x, whole_array=self.keras_quirks)
        return same_kind(out, x)

    def fit(self, x: Any, augment: bool = False, rounds: int = 1, seed: int | None = None) -> None:
        """Fit ``mean``/``std``/``zca_whitening_matrix`` on sample data (keras-semantics §A12).

        Args:
            x: rank-4 numpy array or tensor in ``data_format``.
            augment: fit on ``rounds`` randomly augmented passes over ``x``.
            rounds: number of augmentation passes.
            seed: seed of the augmentation draws (None: derived from ``self.seed``).

        Raises:
            ValueError: ``x`` is not rank 4 (Keras's text) or ``rounds`` < 1.
        """
        self._standardizer.fit(x, augment=augment, rounds=rounds, seed=seed,
                               augmenter=self._augment)

    # -- batched path used by the iterator ---------------------------------------------------
    def transform_batch(
        self, x: torch.Tensor, indices: Any, *, seed: int | None = None, epoch: int = 0
    ) -> torch.Tensor:
        """Augment then standardize a channels-first batch (keras-semantics §A7 step 2b).

        Sample ``i``'s parameters depend only on ``(seed, epoch, indices[i])``, so the result
        does not depend on batch composition, worker count or device.

        Args:
            x: ``(B, C, H, W)`` floating tensor on any device (always channels-first; the
                standardization is done in ``data_format`` layout internally).
            indices: ``(B,)`` dataset indices of the samples.
            seed: draw seed; None uses ``self.seed``.
            epoch: epoch number of the draws.

        Returns:
            ``(B, C, H, W)`` tensor, same device (and dtype) as ``x``.

        Raises:
            ValueError: ``x`` is not a rank-4 tensor.
        """
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise ValueError(
                "`x` must be a (B, C, H, W) tensor. "
                f"Received: x.shape={tuple(np.shape(x))}"
            )
        if not self._augment.is_identity:
            hw = (int(x.shape[2]), int(x.shape[3]))
            params = self._augment.make_params(hw, indices, epoch=epoch, seed=seed)
            x = self._augment.apply(x, params.to(x.device))
        if self._standardizer.is_identity:
            return x
        if self.data_format == "channels_first":
            return self._standardizer.standardize(x)
        return self._standardizer.standardize(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    # -- helpers -----------------------------------------------------------------------------
    def _single_image(self, x: Any) -> torch.Tensor:
        t = as_float_tensor(x, self.dtype)
        if t.dim() != 3:
            raise ValueError(
                f"`x` must be a single image (rank 3). Received: x.shape={tuple(t.shape)}"
            )
        return t


for _name in AUGMENT_ARGS:
    setattr(ImageDataGenerator, _name, read_only_property(_name, "_augment_config"))
for _name in STANDARDIZE_ATTRS:
    setattr(ImageDataGenerator, _name, delegated_property(_name, "_standardizer"))
