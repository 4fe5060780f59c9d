"""``KerasDataFrameDataset``: ``flow_from_dataframe`` semantics as a ``torch.utils.data.Dataset``.

The rows come from a pandas DataFrame, a CSV file or a list of records (``dataframe_table``),
filtered, split and labelled by Keras's ``DataFrameIterator`` rules (``dataframe_rows``,
keras-semantics §A14); images are decoded exactly as ``KerasDirDataset`` does (the same
``load_raw``: Keras's ``load_img`` + ``img_to_array`` pixels, §A8).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .. import _validation as v
from ..index import StringTable
from ..labels import encode_class_mode, encode_multi_hot
from .base import DirDataset, convert
from .dataframe_rows import CLASS_MODES, LABELLED, DataFrameRows, build_rows
from .dataframe_table import read_table
from .keras_dir import KerasDirDataset, set_image_settings


class KerasDataFrameDataset(DirDataset):
    """The images named in a table, loaded exactly like Keras's
    ``ImageDataGenerator().flow_from_dataframe`` (keras-semantics §A14, messages §A16).

    ``ds[i]`` returns ``(image, label)``, ``(image, label, weight)`` with ``weight_col``, or
    ``image`` for ``class_mode=None``: the image as ``dtype`` in 0..255, ``(C, H, W)`` or
    ``(H, W, C)`` for ``channels_last``. Labels per ``class_mode``: categorical ``(K,)``
    one-hot (multi-hot for list labels), binary / sparse the class index as ``dtype``, input a
    copy of the image, raw ``df[y_col]`` values in the column's dtype (``(k,)`` when ``y_col``
    is a list), multi_output a list with one tensor per ``y_col`` column. The weight is a
    ``dtype`` scalar (Keras keeps the column's dtype; ``ds.sample_weight`` does too).

    Args:
        dataframe: a pandas DataFrame, the path of a CSV file or a list of records (dicts);
            pandas is optional (see ``kdir_torch.datasets.dataframe_table``).
        directory: folder the ``x_col`` names are relative to; None: names are paths as they
            are (absolute, or relative to the working directory).
        x_col: column of file names. y_col: label column (a list for multi_output / raw).
        weight_col: numeric column of per-row weights, or None.
        target_size: ``(height, width)``; None keeps each file's size.
        color_mode: "rgb", "rgba" or "grayscale".
        classes: class names (order kept, duplicates dropped); rows with other labels are
            dropped. Ignored, with Keras's warning, for label-less modes.
        class_mode: "categorical", "binary", "sparse", "input", "raw", "multi_output" or
            None; "other" is "raw" with Keras's DeprecationWarning.
        interpolation: PIL filter name: nearest, bilinear, bicubic, hamming, box, lanczos.
        validate_filenames: drop rows whose file is missing or not an image name (warns).
        validation_split: fraction of the rows held out: the first ones (§A14).
        subset: "training", "validation" or None (None ignores the split, as Keras).
        data_format: "channels_first" (default) or "channels_last".
        dtype: float dtype of images, of categorical/binary/sparse labels and of weights.
        keep_aspect_ratio: centre-crop to the target aspect ratio before resizing (Keras's
            ``DataFrameIterator`` argument; ``flow_from_dataframe`` has none).
        augment, standardize, seed, on_error, verbose: as ``KerasDirDataset``; ``verbose``
            prints Keras's ``Found N validated image filenames belonging to K classes.``.
        transform, target_transform, label_dtype: as ``KerasDirDataset`` (not with
            multi_output); ``label_dtype`` applies to categorical/binary/sparse labels.
        jpeg_draft: reduced-DCT JPEG decoding, as ``KerasDirDataset`` (not a Keras option).

    Raises:
        TypeError / ValueError / KeyError: Keras's checks in Keras's order (§A14), then ours.
    """

    # the decoding of KerasDirDataset, shared as is (it reads ``self.index.filepath``)
    load_raw = KerasDirDataset.load_raw
    _chw = KerasDirDataset._chw

    def __init__(
        self,
        dataframe: Any,
        directory: str | os.PathLike | None = None,
        x_col: Any = "filename",
        y_col: Any = "class",
        weight_col: Any = None,
        target_size: tuple[int, int] | None = (256, 256),
        color_mode: str = "rgb",
        classes: Sequence[Any] | None = None,
        class_mode: str | None = "categorical",
        interpolation: str = "nearest",
        validate_filenames: bool = True,
        validation_split: float | None = 0.0,
        subset: str | None = None,
        data_format: str = "channels_first",
        dtype: torch.dtype | str = torch.float32,
        *,
        keep_aspect_ratio: bool = False,
        augment: Any = None,
        standardize: Callable[[torch.Tensor], torch.Tensor] | None = None,
        seed: int | None = None,
        on_error: str = "raise",
        verbose: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        label_dtype: torch.dtype | str | None = None,
        jpeg_draft: bool = False,
    ) -> None:
        self.target_size = v.check_target_size(target_size)
        channels = v.check_color_mode(color_mode)
        v.check_legacy_split(validation_split)
        self.split = v.legacy_split_range(validation_split, subset)
        if class_mode == "other":
            warnings.warn('`class_mode="other"` is deprecated, please use `class_mode="raw"`.',
                          DeprecationWarning, stacklevel=2)
            class_mode = "raw"
        if class_mode not in CLASS_MODES:
            raise ValueError(f"Invalid class_mode: {class_mode}; expected one of: {CLASS_MODES}")
        set_image_settings(self, channels, color_mode, class_mode, subset, data_format, dtype,
                           label_dtype, transform, target_transform, on_error, interpolation,
                           keep_aspect_ratio, augment, standardize, seed)
        self.jpeg_draft = v.check_bool("jpeg_draft", jpeg_draft)
        if class_mode == "multi_output" and self.has_transforms:
            raise ValueError("`transform` / `target_transform` do not apply to "
                             "class_mode='multi_output' (a list of label tensors per batch).")
        self.validate_filenames = v.check_bool("validate_filenames", validate_filenames)
        self.x_col, self.y_col, self.weight_col = x_col, y_col, weight_col
        self.directory = directory or ""
        self.index: DataFrameRows = build_rows(
            read_table(dataframe), os.fspath(self.directory), x_col, y_col, weight_col,
            classes, class_mode, self.validate_filenames, self.split,
        )
        if verbose:
            print(self._found_message())

    def _found_message(self) -> str:
        """Keras's ``Found N (non-)validated image filenames[ belonging to K classes].``"""
        validated = "validated" if self.validate_filenames else "non-validated"
        head = f"Found {self.samples} {validated} image filenames"
        if self.class_mode in LABELLED:
            return f"{head} belonging to {self.num_classes} classes."
        return f"{head}."

    # -- Keras attributes -------------------------------------------------------------------
    class_indices = property(lambda self: self.index.class_indices,
                             doc="``{class: index}`` ({} for label-less modes; Keras has none).")
    class_names = property(lambda self: list(self.index.class_indices))
    num_classes = property(lambda self: len(self.index.class_indices))
    samples = property(lambda self: len(self.index))

    @property
    def filenames(self) -> StringTable:
        """The ``x_col`` values of the rows kept, in table order (a sequence of ``str``)."""
        return self.index.filenames

    @property
    def filepaths(self) -> StringTable:
        """``os.path.join(directory, filename)`` for every row (the names when no directory)."""
        return self.index.filepaths

    @property
    def classes(self) -> np.ndarray | list[Any] | None:
        """Class index per row: ``np.int32`` ``(n,)``; Keras's list when some labels are
        lists (an int per string label, a list of ints per list label, built on access);
        None for label-less modes (Keras has no attribute there)."""
        rows = self.index
        if self.class_mode not in LABELLED:
            return None
        if rows.label_offsets is None:
            return rows.label_values
        values, offsets = rows.label_values.tolist(), rows.label_offsets.tolist()
        return [values[a:b] if is_list else values[a]
                for a, b, is_list in zip(offsets[:-1], offsets[1:], rows.list_rows.tolist())]

    @property
    def labels(self) -> Any:
        """Keras's ``labels``: the targets for raw / multi_output, else ``classes``."""
        if self.class_mode in ("raw", "multi_output"):
            return self.index.targets
        return self.classes

    @property
    def targets(self) -> list[Any]:
        """torchvision's ``targets``: ``labels`` as a list (class indices; a list per
        multi-label row; the values for raw / multi_output; [] for label-less modes)."""
        labels = self.labels
        if labels is None:
            return []
        return labels.tolist() if isinstance(labels, np.ndarray) else list(labels)

    @property
    def sample_weight(self) -> np.ndarray | None:
        """The ``weight_col`` values of the rows (the column's dtype, as Keras), or None."""
        return self.index.weights

    def __len__(self) -> int:
        return len(self.index)

    # -- batches --------------------------------------------------------------------------
    def _to_float(self, raw: torch.Tensor, augmenting: bool,
                  empty: Callable[..., torch.Tensor]) -> torch.Tensor:
        return convert(raw, self.dtype, empty)

    def _labels(self, x: torch.Tensor, indices: torch.Tensor) -> Any:
        """Labels per ``class_mode`` (§A14) on ``x``'s device."""
        rows, idx = self.index, indices.numpy()
        if self.class_mode in ("input", None):
            return encode_class_mode(indices, self.class_mode, self.num_classes, self.dtype, x)
        if self.class_mode == "raw":
            return torch.from_numpy(rows.targets[idx]).to(x.device)
        if self.class_mode == "multi_output":
            return [torch.from_numpy(t[idx]).to(x.device) for t in rows.targets]
        if rows.label_offsets is not None:  # categorical with list labels: multi-hot
            owner, cls = rows.label_lists(idx)
            return encode_multi_hot(torch.from_numpy(owner).to(x.device),
                                    torch.from_numpy(cls).to(x.device), len(idx),
                                    self.num_classes, self.label_dtype or self.dtype)
        cls = torch.from_numpy(rows.label_values[idx]).to(x.device)
        dtype = self.dtype if self.label_dtype is None else self.label_dtype
        return encode_class_mode(cls, self.class_mode, self.num_classes, dtype, x)

    def finish_batch(self, raw: torch.Tensor, indices: torch.Tensor, *, epoch: int | None = None,
                     augment: bool = True, standardize: bool = True,
                     empty: Callable[..., torch.Tensor] = torch.empty) -> Any:
        """``DirDataset.finish_batch``, plus the ``(B,)`` weights as a third item.

        Returns:
            ``(x, y)``, ``(x, y, w)`` with ``weight_col`` (not for class_mode None, as Keras)
            or ``x``; for multi_output ``y`` is a list of tensors.
        """
        indices = torch.as_tensor(indices).cpu()
        out = super().finish_batch(raw, indices, epoch=epoch, augment=augment,
                                   standardize=standardize, empty=empty)
        weights = self.index.weights
        if weights is None or self.class_mode is None:
            return out
        w = torch.from_numpy(np.asarray(weights[indices.numpy()], dtype=np.float64))
        return (*out, w.to(device=out[0].device, dtype=self.dtype))

    def __repr__(self) -> str:
        return (f"KerasDataFrameDataset(samples={self.samples}, directory={self.directory!r}, "
                f"x_col={self.x_col!r}, y_col={self.y_col!r}, class_mode={self.class_mode!r}, "
                f"num_classes={self.num_classes}, target_size={self.target_size})")
