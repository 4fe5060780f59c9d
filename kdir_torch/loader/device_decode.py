"""``make_loader(decode_on="device")``: batched JPEG decoding on the GPU (nvJPEG), opt-in.

The workers read files (``byte_reader.py``: same regular-file check and read deadline as the
host path) and ship JPEG **bytes**; everything else they decode as usual. In the main
process, before ``finish_batch``, a ``DeviceDecoder`` decodes the batch's JPEGs with one
``torchvision.io.decode_jpeg(list_of_files, device=...)`` call, converts colours and resizes
on that device, joins the host-decoded samples at their places and stacks the batch:

* legacy datasets (``load_img`` pixels): RGB decode; grayscale is PIL's ``convert("L")``
  formula ``(19595 R + 38470 G + 7471 B + 2**15) >> 16`` on the device, rgba appends alpha 255;
  resized with ``io.pil_resize`` (PIL's filters bit for bit, ``keep_aspect_ratio`` crop box
  included), only when the size differs, as ``load_img``.
* modern datasets (``decode_image`` + ``tf.image.resize``): RGB decode, or the Y plane for
  grayscale; resized by ``io.modern.resize_image`` (the host path's own torch code, crop and
  pad included). rgba JPEGs are left to the host, which rejects them as TF does.

A batch the decoder rejects is decoded file by file to find the culprit; a file the device
decoder rejects is decoded on the host from the bytes already read (exact CPU pixels), and
only a file that fails there too is a bad file: ``ImageDecodeError`` naming it (with the
device decoder's failure), skipped under ``on_error="skip"``.

Where the pixels differ from the host path: nowhere with ``TEST_DECODE_DEVICE = "cpu"`` (the test
seam: torchvision's libjpeg-turbo decode equals PIL's; measured, tests assert equality).
On CUDA, nvJPEG's IDCT and chroma upsampling are not libjpeg-turbo's, so decoded JPEG pixels
may differ by a few levels; the size of that difference is unmeasured until run on a GPU
(``tests/test_device_decode.py`` has the CUDA check). Resizing adds no difference of its own
for legacy datasets (integer arithmetic); for modern ones only the float32 rounding of the
device's kernels.
"""

from __future__ import annotations

import functools
import importlib.util
import warnings
from typing import Any

import torch

from ..errors import ImageDecodeError
from ..io.legacy import InterpolationError, crop_box, interpolation_message
from ..io.modern import resize_image
from ..io.pil_resize import FILTERS, resize as pil_resize
from .byte_reader import DecodeSpec, EncodedBatch, decode_spec
from .fetch import _check_stackable
from .reading import sample_path

DECODE_ON = ("host", "device")
_LUMA = (19595, 38470, 7471)  # PIL's L24 weights (Convert.c rgb2l)


def check_decode_on(decode_on: Any) -> str:
    """``"host"`` or ``"device"`` (Keras-style message otherwise)."""
    if decode_on not in DECODE_ON:
        raise ValueError(f"`decode_on` must be one of {DECODE_ON}. Received: "
                         f"decode_on={decode_on!r}")
    return decode_on


def check_decode_request(decode_on: Any, device: torch.device,
                         decode_device: str | torch.device | None = None) -> str:
    """The dataset-independent checks of ``decode_on`` (run before any disk access).

    Raises:
        ValueError: a bad ``decode_on``, or "device" without a CUDA ``device`` (unless the
            test seam ``decode_device`` is given).
        ImportError: "device" and torchvision is missing.
    """
    if check_decode_on(decode_on) == "host":
        return decode_on
    if decode_device is None and device.type != "cuda":
        raise ValueError(
            "`decode_on='device'` decodes JPEG files on a CUDA device (nvJPEG) and needs "
            f"`device='cuda'` (or 'cuda:N'). Received: device={str(device)!r}, "
            "decode_on='device'"
        )
    if importlib.util.find_spec("torchvision") is None:
        raise ImportError("`decode_on='device'` decodes with torchvision.io.decode_jpeg; "
                          "install torchvision (pip install torchvision) or use "
                          "decode_on='host'.")
    return decode_on


#: The CPU test seam: decode on this device instead of the CUDA target (the whole byte path
#: with torchvision's CPU decoder, whose pixels equal PIL's). None in normal use; tests set it.
TEST_DECODE_DEVICE: str | None = None


def resolve_decode_device(decode_on: Any, device: torch.device, dataset: Any,
                          finish_in_worker: bool) -> torch.device | None:
    """Where JPEGs are decoded: None for ``decode_on="host"``.

    Args:
        decode_on: "host" or "device".
        device: the loader's target device.
        dataset: the dataset (its decoding must be one ``byte_reader.decode_spec`` knows).
        finish_in_worker: batches are finished in the workers (``augment_on="worker"`` or
            per-sample transforms), which needs decoded images there.

    Raises:
        ValueError: as ``check_decode_request``; also "device" with batches finished in the
            workers, or for a dataset whose decoding is not reproduced.
        ImportError: torchvision is missing.
    """
    decode_device = TEST_DECODE_DEVICE  # read at call time, so tests can set it
    if check_decode_request(decode_on, device, decode_device) == "host":
        return None
    if finish_in_worker:
        raise ValueError(
            "`decode_on='device'` decodes after the transfer, so batches cannot be finished "
            "in the workers: use augment_on='device' and a dataset without transform / "
            "target_transform, or decode_on='host'. Received: decode_on='device'"
        )
    decode_spec(dataset)
    return torch.device(device if decode_device is None else decode_device)


def _luma(rgb: torch.Tensor) -> torch.Tensor:
    """PIL's ``convert("L")`` of a ``(3, H, W)`` uint8 image: ``(1, H, W)`` uint8."""
    r, g, b = rgb.to(torch.int32).unbind(0)
    y = (r * _LUMA[0] + g * _LUMA[1] + b * _LUMA[2] + (1 << 15)) >> 16
    return y.to(torch.uint8)[None]


class DeviceDecoder:
    """Decodes ``EncodedBatch``es into raw ``(B, C, H, W)`` batches on ``device``.

    Args:
        dataset: the dataset the batches come from (paths for errors; ``decode_spec``).
        device: where to decode (the loader's CUDA device; CPU in tests).
    """

    def __init__(self, dataset: Any, device: torch.device) -> None:
        self.spec: DecodeSpec = decode_spec(dataset)
        self.device = device
        self.describe = functools.partial(sample_path, dataset)

    def decode(self, batch: EncodedBatch, indices: torch.Tensor,
               skip: bool) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, str]]]:
        """The raw batch of ``batch`` (samples at ``indices``), on ``self.device``.

        Args:
            batch: what a worker packed (``byte_reader.pack_batch``).
            indices: ``(B,)`` int64 CPU dataset indices of its samples, in batch order.
            skip: drop files that fail (``on_error="skip"``) instead of raising.

        Returns:
            ``(raw, kept, skipped)``: raw ``(B', C, H, W)`` in the widest dtype of the
            samples (uint8; float32 for modern non-nearest; int32 with 16-bit fallbacks),
            ``kept`` ``(B',)`` int64 indices, ``skipped`` ``(index, path)`` of dropped files.

        Raises:
            ImageDecodeError: a file fails on the device and on the host (not ``skip``).
            InterpolationError: a legacy resize with an unknown filter name (as ``load_raw``).
            ValueError: the samples differ in size (``target_size=None``).
        """
        wanted = indices.tolist()
        out: list[torch.Tensor | None] = [None] * len(batch)
        at = batch.jpeg_at.tolist()
        host_at = sorted(set(range(len(batch))) - set(at))
        for k, arr in zip(host_at, batch.decoded):
            out[k] = torch.from_numpy(arr).to(self.device)
        skipped = []
        files = batch.files()
        for k, data, image in zip(at, files, self._decode_files(files)):
            i = wanted[k]
            if isinstance(image, torch.Tensor):
                out[k] = self._pixels(image, i)
                continue
            try:  # the device decoder rejected it: the host path's pixels, or its error
                out[k] = self.spec.host_decode(data.numpy().tobytes()).to(self.device)
            except Exception as exc:
                if skip:
                    skipped.append((i, self.describe(i)))
                    continue
                err = ImageDecodeError(self.describe(i), i, exc)
                err.add_note(f"decode_jpeg on {self.device} failed first: {image}")
                raise err from exc
        kept = [k for k, t in enumerate(out) if t is not None]
        images = [out[k] for k in kept]
        error = _check_stackable(images, [wanted[k] for k in kept], self.describe)
        if error is not None:
            raise error
        dtype = functools.reduce(torch.promote_types, {t.dtype for t in images}, torch.uint8)
        raw = torch.stack([t.to(dtype) for t in images]) if images else \
            torch.empty(0, dtype=torch.uint8, device=self.device)
        return raw, indices[kept], skipped

    def _decode_files(self, files: list[torch.Tensor]) -> list[torch.Tensor | Exception]:
        """``decode_jpeg`` of every file in one batched call; file by file when it fails."""
        if not files:
            return []
        from torchvision.io import ImageReadMode, decode_jpeg

        mode = ImageReadMode.GRAY if self.spec.gray_plane else ImageReadMode.RGB
        with warnings.catch_warnings():  # torchvision 0.29 deprecates its image decoders
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                return list(decode_jpeg(files, mode=mode, device=self.device))
            except Exception:  # one bad file fails the whole call: find which
                pass
            results: list[torch.Tensor | Exception] = []
            for data in files:
                try:
                    results.append(decode_jpeg(data, mode=mode, device=self.device))
                except Exception as exc:  # kept without its traceback: its frames would
                    results.append(exc.with_traceback(None))  # tie the loader into a cycle
            return results

    def _pixels(self, image: torch.Tensor, i: int) -> torch.Tensor:
        """Colour conversion and resize of one decoded ``(C, H, W)`` uint8 image."""
        spec = self.spec
        if spec.api == "modern":
            return resize_image(image, spec.size, spec.interpolation, spec.crop_to_aspect_ratio,
                                spec.pad_to_aspect_ratio)
        if spec.color_mode == "grayscale":
            image = _luma(image)
        height, width = int(image.shape[-2]), int(image.shape[-1])
        if spec.size is not None and (height, width) != tuple(spec.size):
            if spec.interpolation not in FILTERS:
                raise InterpolationError(
                    f"{interpolation_message(spec.interpolation)} (needed to resize sample "
                    f"{i}: {self.describe(i)!r})")
            target_h, target_w = spec.size
            box = crop_box(width, height, target_w, target_h) if spec.keep_aspect_ratio \
                else None
            image = pil_resize(image, spec.size, spec.interpolation, box)
        if spec.color_mode == "rgba":
            alpha = torch.full_like(image[:1], 255)
            image = torch.cat([image, alpha])
        return image
