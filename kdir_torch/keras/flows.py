"""The ``flow*`` methods of ``ImageDataGenerator``: Keras's signatures, our iterators.

Each method builds the iterator of its kind (imported lazily, so the generator alone stays
light) with the generator's ``data_format`` and ``dtype``, plus keyword-only loader options
where ``None`` keeps the iterator's default (``num_workers=0``, ``timeout=300`` seconds per
image read, ``on_error="raise"``, ``decode_on="host"``; ``decode_on="device"`` decodes JPEGs on
the CUDA ``device``, see ``kt.make_loader``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


class FlowMethods:
    """Mixin of ``ImageDataGenerator`` (which provides ``data_format`` and ``dtype``)."""

    data_format: str
    dtype: torch.dtype

    def flow(
        self, x: Any, y: Any = None, batch_size: int = 32, shuffle: bool = True,
        sample_weight: Any = None, seed: int | None = None, save_to_dir: str | None = None,
        save_prefix: str = "", save_format: str = "png", ignore_class_split: bool = False,
        subset: str | None = None, *, num_workers: int | None = None,
        device: str | torch.device | None = None, pin_memory: bool | None = None,
    ) -> Any:
        """A :class:`~kdir_torch.keras.array_iterator.NumpyArrayIterator` (keras-semantics §A15).

        Keras's signature and defaults, plus keyword-only loader options (``None`` keeps the
        iterator's default, ``num_workers=0``). ``x`` is in the generator's ``data_format``
        (numpy or tensor), optionally ``(x, misc)``; the generator's ``dtype`` is used.

        Returns:
            NumpyArrayIterator over ``x`` that augments and standardizes with ``self``.
        """
        from kdir_torch.keras.array_iterator import NumpyArrayIterator

        extras = {"num_workers": num_workers, "device": device, "pin_memory": pin_memory}
        return NumpyArrayIterator(
            x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
            seed=seed, data_format=self.data_format, save_to_dir=save_to_dir,
            save_prefix=save_prefix, save_format=save_format, subset=subset,
            ignore_class_split=ignore_class_split, dtype=self.dtype,
            **{k: v for k, v in extras.items() if v is not None},
        )

    def flow_from_directory(
        self,
        directory: str,
        target_size: tuple[int, int] = (256, 256),
        color_mode: str = "rgb",
        classes: Sequence[str] | None = None,
        class_mode: str | None = "categorical",
        batch_size: int = 32,
        shuffle: bool = True,
        seed: int | None = None,
        save_to_dir: str | None = None,
        save_prefix: str = "",
        save_format: str = "png",
        follow_links: bool = False,
        subset: str | None = None,
        interpolation: str = "nearest",
        keep_aspect_ratio: bool = False,
        *,
        num_workers: int | None = None,
        device: str | torch.device | None = None,
        pin_memory: bool | None = None,
        timeout: float | None = None,
        on_error: str | None = None,
        jpeg_draft: bool = False,
        cache: str | None = None,
        cache_dir: str | None = None,
        cache_bytes: int | None = None,
        decode_on: str | None = None,
    ) -> Any:
        """A :class:`~kdir_torch.keras.directory_iterator.DirectoryIterator` (keras-semantics §A1).

        Keras's signature and defaults, plus keyword-only loader options (``None`` keeps the
        iterator's default: ``num_workers=0``, ``timeout=300`` seconds per image read,
        ``on_error="raise"``, no decoded cache). ``cache``/``cache_dir``/``cache_bytes`` are
        ``KerasDirDataset``'s. The generator's ``data_format`` and ``dtype`` are used.
        ``jpeg_draft=True`` decodes JPEGs at a reduced DCT scale (faster on large photos, not
        Keras's pixels; see ``KerasDirDataset``).

        Returns:
            DirectoryIterator over ``directory`` that augments and standardizes with ``self``.
        """
        from kdir_torch.keras.directory_iterator import DirectoryIterator

        extras = {"num_workers": num_workers, "device": device, "pin_memory": pin_memory,
                  "timeout": timeout, "on_error": on_error, "cache": cache,
                  "cache_dir": cache_dir, "cache_bytes": cache_bytes,
                  "decode_on": decode_on}
        return DirectoryIterator(
            directory, self, target_size=target_size, color_mode=color_mode,
            classes=classes, class_mode=class_mode, batch_size=batch_size, shuffle=shuffle,
            seed=seed, data_format=self.data_format, save_to_dir=save_to_dir,
            save_prefix=save_prefix, save_format=save_format, follow_links=follow_links,
            subset=subset, interpolation=interpolation, keep_aspect_ratio=keep_aspect_ratio,
            dtype=self.dtype, jpeg_draft=jpeg_draft,
            **{k: v for k, v in extras.items() if v is not None},
        )

    def flow_from_dataframe(
        self, dataframe: Any, directory: str | None = None, x_col: Any = "filename",
        y_col: Any = "class", weight_col: Any = None, target_size: tuple[int, int] = (256, 256),
        color_mode: str = "rgb", classes: Sequence[Any] | None = None,
        class_mode: str | None = "categorical", batch_size: int = 32, shuffle: bool = True,
        seed: int | None = None, save_to_dir: str | None = None, save_prefix: str = "",
        save_format: str = "png", subset: str | None = None, interpolation: str = "nearest",
        validate_filenames: bool = True, *, num_workers: int | None = None,
        device: str | torch.device | None = None, pin_memory: bool | None = None,
        timeout: float | None = None, on_error: str | None = None, jpeg_draft: bool = False,
        decode_on: str | None = None, **kwargs: Any,
    ) -> Any:
        """A :class:`~kdir_torch.keras.dataframe_iterator.DataFrameIterator` (keras-semantics §A14).

        Keras's signature and defaults (``has_ext``, ``sort``, ``drop_duplicates`` and
        ``class_mode="other"`` give Keras's DeprecationWarnings), plus the keyword-only loader
        options of ``flow_from_directory`` (``jpeg_draft`` too). ``dataframe``: a pandas
        DataFrame, a CSV path or a list of records.
        """
        from kdir_torch.keras.dataframe_iterator import (
            DataFrameIterator,
            deprecated_arguments,
        )

        class_mode = deprecated_arguments(kwargs, class_mode)
        extras = {"num_workers": num_workers, "device": device, "pin_memory": pin_memory,
                  "timeout": timeout, "on_error": on_error, "decode_on": decode_on}
        return DataFrameIterator(
            dataframe, directory, self, x_col=x_col, y_col=y_col, weight_col=weight_col,
            target_size=target_size, color_mode=color_mode, classes=classes,
            class_mode=class_mode, batch_size=batch_size, shuffle=shuffle, seed=seed,
            data_format=self.data_format, save_to_dir=save_to_dir, save_prefix=save_prefix,
            save_format=save_format, subset=subset, interpolation=interpolation,
            validate_filenames=validate_filenames, dtype=self.dtype, jpeg_draft=jpeg_draft,
            **{k: v for k, v in extras.items() if v is not None},
        )
