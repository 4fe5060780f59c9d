"""Worker side of ``make_loader(decode_on="device")``: JPEG bytes out, everything else decoded.

A ``ByteReader`` replaces ``dataset.load_raw`` as what a worker's ``DeadlineReader`` calls, so
the read deadline (``timeout``) and the regular-file check (``io.files.open_regular``) are the
ones of the host path. For each sample it reads the whole file; when ``io.jpeg_header`` says a
GPU decoder may take it (and the colour mode can be produced from it on the device) the bytes
are kept as they are (``JpegBytes``), otherwise the sample is decoded right there by
``dataset.load_raw`` (PNG, BMP, CMYK JPEG, ...: the host path's pixels and errors).
``pack_batch`` turns a batch of both kinds into one ``EncodedBatch``: numpy arrays only, which
the ``DataLoader`` pickles by value (no shared-memory segment per sample).

``DecodeSpec`` is what the device side must produce for the dataset, read off the dataset
(the legacy ``KerasDirDataset`` / ``KerasDataFrameDataset`` or the modern per-element
``ModernDirDataset``); ``host_decode`` is the exact CPU path for bytes already read (used when
the GPU decoder rejects a file).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..cache import cache_view
from ..datasets.keras_dir import KerasDirDataset
from ..datasets.modern import ModernDirDataset
from ..errors import ImageDecodeError
from ..io.files import open_regular
from ..io.jpeg_header import gpu_components
from ..io.legacy import load_array
from ..io.modern import decode_image, resize_image
from .reading import sample_path

SUPPORTED = "KerasDirDataset, KerasDataFrameDataset, split parts of them, or the element " \
    "dataset of image_dataset_from_directory (ModernDirDataset)"


@dataclass(frozen=True)
class DecodeSpec:
    """The pixels a dataset's ``load_raw`` produces, as parameters for the device path.

    Attributes:
        api: "legacy" (``load_img`` + PIL resize) or "modern" (``decode_image`` + TF resize).
        color_mode: "rgb", "rgba" or "grayscale".
        size: ``(height, width)`` target, or None (legacy ``target_size=None``).
        interpolation: the dataset's filter name.
        keep_aspect_ratio: legacy centre crop before resizing.
        crop_to_aspect_ratio, pad_to_aspect_ratio: the modern options.
    """

    api: str
    color_mode: str
    size: tuple[int, int] | None
    interpolation: str
    keep_aspect_ratio: bool = False
    crop_to_aspect_ratio: bool = False
    pad_to_aspect_ratio: bool = False

    @property
    def gray_plane(self) -> bool:
        """Decode straight to the Y plane (modern grayscale, as TF's ``JCS_GRAYSCALE``);
        legacy grayscale is PIL's ``convert("L")`` of the RGB decode, done on the device."""
        return self.api == "modern" and self.color_mode == "grayscale"

    def takes(self, components: int | None) -> bool:
        """Whether a JPEG with this many components goes to the device decoder (modern rgba
        never: TF rejects 4-channel JPEG decoding, and the host path raises the same)."""
        return components is not None and not (self.api == "modern"
                                                and self.color_mode == "rgba")

    def host_decode(self, data: bytes) -> torch.Tensor:
        """The host path's ``load_raw`` pixels for a file's bytes: ``(C, H, W)``."""
        if self.api == "legacy":
            arr = load_array(io.BytesIO(data), self.color_mode, self.size, self.interpolation,
                             self.keep_aspect_ratio, channels_first=True)
            return torch.from_numpy(np.ascontiguousarray(arr))
        channels = {"grayscale": 1, "rgb": 3, "rgba": 4}[self.color_mode]
        image = decode_image(io.BytesIO(data), channels)  # type: ignore[arg-type]
        return resize_image(image, self.size, self.interpolation, self.crop_to_aspect_ratio,
                            self.pad_to_aspect_ratio)


def decode_spec(dataset: Any) -> DecodeSpec:
    """The ``DecodeSpec`` of a dataset whose decoding the device path reproduces.

    Raises:
        ValueError: any other dataset (in-memory arrays, a subclass with its own ``load_raw``).
    """
    load = getattr(type(dataset), "load_raw", None)
    for what, on in (("jpeg_draft=True (reduced-DCT host decoding)",
                      getattr(dataset, "jpeg_draft", False)),
                     ("a decoded cache (cache=)", cache_view(dataset) is not None)):
        if on:
            raise ValueError(
                f"`decode_on='device'` cannot reproduce a dataset with {what}: its pixels "
                "come from the host. Use decode_on='host' with it. Received: "
                "decode_on='device'")
    if load is KerasDirDataset.load_raw:
        return DecodeSpec("legacy", dataset.color_mode, dataset.target_size,
                          dataset.interpolation, keep_aspect_ratio=dataset.keep_aspect_ratio)
    if load is ModernDirDataset.load_raw:
        return DecodeSpec("modern", dataset.color_mode, dataset.image_size,
                          dataset.interpolation,
                          crop_to_aspect_ratio=dataset.crop_to_aspect_ratio,
                          pad_to_aspect_ratio=dataset.pad_to_aspect_ratio)
    raise ValueError(
        f"`decode_on='device'` decodes the image files of a {SUPPORTED}; this dataset decodes "
        f"its samples its own way. Received: dataset={type(dataset).__name__}, "
        "decode_on='device'"
    )


@dataclass(frozen=True)
class JpegBytes:
    """A file left encoded for the device decoder."""

    data: bytes


class ByteReader:
    """``load(i)`` for the workers: ``JpegBytes`` or the host-decoded ``(C, H, W)`` tensor.

    Args:
        dataset: the worker's dataset view (its ``load_raw`` decodes the fallback files).
        spec: ``decode_spec(dataset)``.
    """

    def __init__(self, dataset: Any, spec: DecodeSpec) -> None:
        self.dataset, self.spec = dataset, spec

    def __call__(self, i: int) -> JpegBytes | torch.Tensor:
        """Read sample ``i``'s file; keep a GPU-decodable JPEG encoded, decode anything else.

        Raises:
            ImageDecodeError: missing, unreadable or not a regular file (names path and index),
                or a fallback file that fails to decode (``load_raw``'s error).
        """
        path = sample_path(self.dataset, i)
        try:
            with open_regular(path) as fp:
                data = fp.read()
        except OSError as exc:
            raise ImageDecodeError(path, int(i), exc) from exc
        if self.spec.takes(gpu_components(data)):
            return JpegBytes(data)
        return self.dataset.load_raw(i)

    @staticmethod
    def pack(samples: list[JpegBytes | torch.Tensor]) -> EncodedBatch:
        """``pack_batch`` (what ``BatchFetcher`` calls on a batch of these results)."""
        return pack_batch(samples)


@dataclass
class EncodedBatch:
    """A batch as it travels from a worker with ``decode_on="device"``.

    Attributes:
        blob: uint8 concatenation of the JPEG files of the batch.
        offsets: ``(J + 1,)`` int64 bounds of each file in ``blob``.
        jpeg_at: ``(J,)`` int64 positions (in the batch) of the JPEG samples.
        decoded: the other samples, host-decoded ``(C, H, W)`` arrays in batch order.
    """

    blob: np.ndarray
    offsets: np.ndarray
    jpeg_at: np.ndarray
    decoded: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.jpeg_at) + len(self.decoded)

    def files(self) -> list[torch.Tensor]:
        """The JPEG files as 1-D uint8 CPU tensors (views of ``blob``)."""
        blob = torch.from_numpy(self.blob)
        return [blob[a:b] for a, b in zip(self.offsets[:-1].tolist(), self.offsets[1:].tolist())]


def pack_batch(samples: list[JpegBytes | torch.Tensor]) -> EncodedBatch:
    """One ``EncodedBatch`` of a batch's ``ByteReader`` results (in batch order)."""
    files = [s.data for s in samples if isinstance(s, JpegBytes)]
    sizes = np.array([0] + [len(f) for f in files], dtype=np.int64)
    jpeg_at = [k for k, s in enumerate(samples) if isinstance(s, JpegBytes)]
    return EncodedBatch(np.frombuffer(bytearray(b"".join(files)), dtype=np.uint8),
                        np.cumsum(sizes), np.array(jpeg_at, dtype=np.int64),
                        [s.numpy() for s in samples if not isinstance(s, JpegBytes)])
