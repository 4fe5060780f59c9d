"""Keras's legacy ``DataFrameIterator`` (``flow_from_dataframe``) on top of kdir_torch layers.

Composition only: a ``KerasDataFrameDataset`` (table parsing, Keras's checks, filtering,
split, labels and decoding; built without augmentation) driven by ``LoaderIterator`` (Keras's
iterator protocol over ``make_loader``; its module docstring lists the differences from
Keras). Batches are ``(x, y)``, ``(x, y, w)`` with ``weight_col``, or ``x``: x ``(B, H, W,
C)``/``(B, C, H, W)`` of the generator dtype, y per keras-semantics §A14 (a list of tensors for
multi_output), w ``(B,)`` of the generator dtype.

Differences from Keras, besides those of ``LoaderIterator``:

* ``filenames`` / ``filepaths`` are lists of ``str`` as Keras's; ``classes`` is ``np.int32``
  (Keras's list of ints and lists when some labels are lists); label-less modes have
  ``class_indices == {}`` and ``classes is None`` where Keras has no attribute.
* raw / multi_output labels must be numbers or bools (they become tensors): a TypeError
  otherwise, where Keras passes any numpy array through.
* Weights in batches are of the generator dtype (``sample_weight`` keeps the column's dtype,
  as Keras).
* ``DataFrameIterator(class_mode="other")`` warns and uses "raw", as ``flow_from_dataframe``
  does (Keras's ``DataFrameIterator`` rejects it).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from kdir_torch.datasets import KerasDataFrameDataset
from kdir_torch.keras.iterator import (
    LoaderIterator,
    check_loader_args,
    forward_attributes,
    list_attributes,
)
from kdir_torch.loader.factory import DEFAULT_TIMEOUT

__all__ = ["DataFrameIterator", "deprecated_arguments"]

_FORWARDED = (
    "class_indices", "classes", "labels", "num_classes", "samples",
    "image_shape", "directory", "target_size", "color_mode", "class_mode", "interpolation",
    "keep_aspect_ratio", "split", "subset", "data_format", "dtype", "jpeg_draft", "x_col", "y_col",
    "weight_col", "validate_filenames", "sample_weight",
)

# flow_from_dataframe's deprecated keyword arguments, with Keras's texts, in Keras's order
_DEPRECATED = (
    ("has_ext", "has_ext is deprecated, filenames in the dataframe have to match the exact "
                "filenames in disk."),
    ("sort", "sort is deprecated, batches will be created in thesame order than the filenames "
             "provided if `shuffle`is set to `False`."),
    ("other", '`class_mode="other"` is deprecated, please use `class_mode="raw"`.'),
    ("drop_duplicates", "drop_duplicates is deprecated, you can drop duplicates by using the "
                        "pandas.DataFrame.drop_duplicates method."),
)


def deprecated_arguments(kwargs: Mapping[str, Any], class_mode: str | None) -> str | None:
    """``flow_from_dataframe``'s extra keywords, as Keras: DeprecationWarnings, "other" -> "raw".

    Keras ignores any other keyword silently; we warn that it is ignored.

    Returns:
        The class_mode to use.
    """
    for name, text in _DEPRECATED:
        if (name == "other" and class_mode == "other") or (name != "other" and name in kwargs):
            warnings.warn(text, DeprecationWarning, stacklevel=3)
    unknown = sorted(set(kwargs) - {"has_ext", "sort", "drop_duplicates"})
    if unknown:
        warnings.warn(f"flow_from_dataframe ignores the keyword argument(s) {unknown}, as "
                      "Keras does.", UserWarning, stacklevel=3)
    return "raw" if class_mode == "other" else class_mode


class DataFrameIterator(LoaderIterator):
    """Iterator over the images named in a table, Keras's ``DataFrameIterator`` (§A14).

    Args:
        dataframe: a pandas DataFrame, a CSV path or a list of records (dicts).
        directory: folder the ``x_col`` names are relative to (None: paths as they are).
        image_data_generator: the ``ImageDataGenerator`` whose ``transform_batch`` augments
            and standardizes, and whose ``validation_split``/``data_format``/``dtype`` apply;
            None: no augmentation (a plain ``ImageDataGenerator()``).
        x_col, y_col, weight_col, target_size, color_mode, classes, class_mode, subset,
            interpolation, keep_aspect_ratio, validate_filenames: as ``flow_from_dataframe``
            (§A14; see ``KerasDataFrameDataset``).
        batch_size: samples per batch. shuffle: new order each epoch.
        seed: order and augmentation seed; None draws a fresh one (``it.seed`` stays None).
        data_format, dtype: None -> the generator's (Keras's channels_last / float32 without).
        save_to_dir, save_prefix, save_format: save every yielded image (§A13).
        num_workers: decoding processes for ``next()``/``for`` (0 = in this process).
        device: where batches are delivered (None = CPU). pin_memory: None = CUDA only.
        timeout: seconds one image read may take, any ``num_workers`` (0 = no limit).
        decode_on: "host" or "device" (JPEGs decoded on the CUDA ``device``; see
            ``kt.make_loader``).
        on_error: "raise" (Keras) or "skip" a file that cannot be read (batches are then
            smaller, labels and weights stay aligned; ``it.loader.skipped`` lists them).
        jpeg_draft: reduced-DCT JPEG decoding (``KerasDirDataset``; not a Keras option).

    Raises:
        ValueError / TypeError / KeyError: Keras's validation (§A14, §A16) and the loader's
            argument checks.
    """

    white_list_formats = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
    allowed_class_modes = {"binary", "categorical", "input", "multi_output", "raw", "sparse",
                           None}

    def __init__(
        self, dataframe: Any, directory: str | os.PathLike | None = None,
        image_data_generator: Any = None, x_col: Any = "filename", y_col: Any = "class",
        weight_col: Any = None, target_size: tuple[int, int] = (256, 256),
        color_mode: str = "rgb", classes: Sequence[Any] | None = None,
        class_mode: str | None = "categorical", batch_size: int = 32, shuffle: bool = True,
        seed: int | None = None, data_format: str | None = None, save_to_dir: str | None = None,
        save_prefix: str = "", save_format: str = "png", subset: str | None = None,
        interpolation: str = "nearest", keep_aspect_ratio: bool = False,
        dtype: torch.dtype | str | None = None, validate_filenames: bool = True, *,
        num_workers: int = 0, device: str | torch.device | None = None,
        pin_memory: bool | None = None, timeout: float = DEFAULT_TIMEOUT,
        on_error: str = "raise", jpeg_draft: bool = False,
        decode_on: str = "host",
    ) -> None:
        if image_data_generator is None:
            from kdir_torch.keras.image_data_generator import ImageDataGenerator

            image_data_generator = ImageDataGenerator()
        gen = image_data_generator
        check_loader_args(batch_size, shuffle, seed, num_workers, device, pin_memory, timeout,
                          on_error, decode_on)
        dataset = KerasDataFrameDataset(
            dataframe, directory, x_col, y_col, weight_col, target_size, color_mode, classes,
            class_mode, interpolation, validate_filenames,
            getattr(gen, "_validation_split", 0.0), subset,
            gen.data_format if data_format is None else data_format,
            gen.dtype if dtype is None else dtype, keep_aspect_ratio=keep_aspect_ratio,
            on_error=on_error, jpeg_draft=jpeg_draft,
        )
        super().__init__(dataset, gen, batch_size, shuffle, seed, save_to_dir, save_prefix,
                         save_format, num_workers, device, pin_memory, timeout,
                         decode_on=decode_on)

    def __repr__(self) -> str:
        return (f"DataFrameIterator(n={self.n}, x_col={self.x_col!r}, y_col={self.y_col!r}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, seed={self.seed})")


forward_attributes(DataFrameIterator, _FORWARDED)
list_attributes(DataFrameIterator, ("filenames", "filepaths"))
