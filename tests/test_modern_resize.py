"""Decoding and resizing of the modern API against TF's formulas (keras-semantics §B7).

Each resampler is checked against an independent float64 per-pixel reference written from the
TF kernel it reproduces; boxes against the worked examples of docs/keras-semantics.md; decoding against hand-made
PNG/GIF/BMP/JPEG files. If TensorFlow is importable, a differential test runs against
``tf.image.resize`` / ``tf.io.decode_image`` too.
"""

from __future__ import annotations

import math
import re
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from kdir_torch.errors import ImageDecodeError
from kdir_torch.io.modern import crop_box, decode_image, load_image, pad_box, resize_image
from kdir_torch.io.modern_resize import METHODS, resize

SIZES = [((5, 7), (3, 4)), ((6, 4), (11, 9)), ((9, 13), (9, 13)), ((8, 8), (3, 5)),
         ((4, 10), (7, 3)), ((1, 6), (4, 2))]


def _rand(h: int, w: int, c: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (c, h, w), generator=g, dtype=torch.uint8)


def _separable(img: np.ndarray, wy: np.ndarray, wx: np.ndarray) -> np.ndarray:
    """Apply per-axis weight matrices (out, in) to a (C, H, W) float64 image."""
    return np.einsum("yh,chw,xw->cyx", wy, img.astype(np.float64), wx)


# -- float64 references, one output pixel at a time ----
def _bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        src = (o + 0.5) * n_in / n_out - 0.5
        lo = math.floor(src)
        frac = src - lo
        m[o, min(max(lo, 0), n_in - 1)] += 1 - frac
        m[o, min(max(lo + 1, 0), n_in - 1)] += frac
    return m


def _keys(t: float, a: float = -0.5) -> float:
    t = abs(t)
    if t <= 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    if t < 2:
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return 0.0


def _bicubic_matrix(n_in: int, n_out: int) -> np.ndarray:
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        src = (o + 0.5) * n_in / n_out - 0.5
        base = math.floor(src)
        for j in range(base - 1, base + 3):
            if 0 <= j < n_in:
                m[o, j] = _keys(src - j)
        m[o] /= m[o].sum()
    return m


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    scale = n_in / n_out
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        lo, hi = o * scale, (o + 1) * scale
        for j in range(n_in):
            m[o, j] = max(0.0, min(hi, j + 1) - max(lo, j)) / scale
    return m


def _kernel(method: str, t: float) -> float:
    t = abs(t)
    if method in ("lanczos3", "lanczos5"):
        r = 3.0 if method == "lanczos3" else 5.0
        if t > r:
            return 0.0
        return 1.0 if t <= 1e-3 else r * math.sin(math.pi * t) * math.sin(math.pi * t / r) / (
            math.pi * math.pi * t * t)
    if method == "gaussian":
        return math.exp(-t * t / (2 * 0.5 ** 2)) if t < 1.5 else 0.0
    if t >= 2:
        return 0.0
    if t >= 1:
        return ((-7 / 18 * t + 2) * t - 10 / 3) * t + 16 / 9
    return (7 / 6 * t - 2) * t * t + 8 / 9


def _span_matrix(method: str, n_in: int, n_out: int) -> np.ndarray:
    radius = {"lanczos3": 3, "lanczos5": 5, "gaussian": 1.5, "mitchellcubic": 2}[method]
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        sample = (o + 0.5) * n_in / n_out
        lo = min(max(math.ceil(sample - radius - 0.5), 0), n_in - 1)
        hi = min(max(math.floor(sample + radius - 0.5), 0), n_in - 1)
        for j in range(lo, hi + 1):
            m[o, j] = _kernel(method, j + 0.5 - sample)
        m[o] /= m[o].sum()
    return m


REFERENCES = {
    "bilinear": _bilinear_matrix, "bicubic": _bicubic_matrix, "area": _area_matrix,
    "lanczos3": lambda i, o: _span_matrix("lanczos3", i, o),
    "lanczos5": lambda i, o: _span_matrix("lanczos5", i, o),
    "gaussian": lambda i, o: _span_matrix("gaussian", i, o),
    "mitchellcubic": lambda i, o: _span_matrix("mitchellcubic", i, o),
}
# bicubic: TF quantises the cubic weights to a 1024-entry table, ~1e-3 of the range (§B7).
TOLERANCE = {"bicubic": 3e-3 * 255}


@pytest.mark.parametrize("method", sorted(REFERENCES))
@pytest.mark.parametrize(("src", "dst"), SIZES)
def test_resize_matches_float64_reference(method, src, dst):
    """§B7: every float method equals its TF formula (float32 rounding, bicubic table)."""
    img = _rand(*src)
    out = resize(img, dst, method)
    ref = _separable(img.numpy(), REFERENCES[method](src[0], dst[0]),
                     REFERENCES[method](src[1], dst[1]))
    assert out.dtype == torch.float32 and tuple(out.shape) == (2, *dst)
    np.testing.assert_allclose(out.numpy(), ref, rtol=0, atol=TOLERANCE.get(method, 2e-3))


@pytest.mark.parametrize(("src", "dst"), SIZES)
def test_nearest_is_half_pixel_floor_and_keeps_uint8(src, dst):
    """§B7: nearest = ``min(floor((dst + 0.5) * in / out), in - 1)``, uint8 output."""
    img = _rand(*src)
    out = resize(img, dst, "nearest")
    rows = [min(math.floor((y + 0.5) * src[0] / dst[0]), src[0] - 1) for y in range(dst[0])]
    cols = [min(math.floor((x + 0.5) * src[1] / dst[1]), src[1] - 1) for x in range(dst[1])]
    assert out.dtype == torch.uint8
    assert torch.equal(out, img[:, rows][:, :, cols])


@pytest.mark.parametrize("method", ["bilinear", "bicubic", "area", "nearest"])
def test_scale_one_is_an_exact_copy(method):
    """§B7: resizing always happens; at scale 1 these kernels return the input exactly."""
    img = _rand(7, 5)
    assert torch.equal(resize(img, (7, 5), method).to(torch.uint8), img)


def test_area_integer_factor_is_block_mean():
    """§B7 area = TF resize_area: a 3x2 downscale averages 3x2 blocks."""
    img = _rand(9, 8, c=1)
    expected = img.double().reshape(1, 3, 3, 4, 2).mean(dim=(2, 4))
    np.testing.assert_allclose(resize(img, (3, 4), "area").numpy(), expected.numpy(), atol=1e-4)


def test_batched_input_equals_per_image():
    """Kernels work on any leading shape: a (B, C, H, W) batch equals per-image calls."""
    batch = torch.stack([_rand(6, 9, seed=s) for s in range(3)])
    for method in METHODS:
        whole = resize(batch, (4, 5), method)
        each = torch.stack([resize(b, (4, 5), method) for b in batch])
        assert torch.equal(whole, each), method


@pytest.mark.parametrize(("hw", "target", "box"), [
    ((20, 40), (20, 20), (0, 10, 20, 20)),   # smart_resize example: img[:, 10:-10]
    ((40, 20), (20, 20), (10, 0, 20, 20)),
    ((5, 7), (4, 4), (0, 1, 5, 5)),
    ((7, 3), (2, 5), (3, 0, 1, 3)),
    ((1, 9), (3, 3), (0, 4, 1, 1)),          # crop sizes never drop below 1
])
def test_crop_box(hw, target, box):
    """§B7 crop_to_aspect_ratio: float32 box of smart_resize (top, left, crop_h, crop_w)."""
    assert crop_box(*hw, *target) == box


@pytest.mark.parametrize(("hw", "target", "box"), [
    ((5, 7), (4, 4), (0, 0, 2, 4)),          # spec example: content in rows 0-1
    ((7, 5), (4, 4), (0, 0, 4, 2)),
    ((10, 10), (4, 6), (0, 1, 4, 4)),
    ((3, 12), (6, 6), (2, 0, 1, 6)),
])
def test_pad_box(hw, target, box):
    """§B7 pad_to_aspect_ratio: resize_with_pad's (pad_top, pad_left, rh, rw), unfloored pad."""
    assert pad_box(*hw, *target) == box


def test_pad_places_content_in_rows_0_1_for_5x7_to_4x4():
    """§B7: 5x7 -> (4, 4) puts the 2x4 resized image in rows 0-1, rows 2-3 are zero."""
    img = torch.full((1, 5, 7), 200, dtype=torch.uint8)
    out = resize_image(img, (4, 4), "bilinear", pad_to_aspect_ratio=True)
    assert torch.equal(out[0, :2], torch.full((2, 4), 200.0))
    assert torch.equal(out[0, 2:], torch.zeros(2, 4))
    assert resize_image(img, (4, 4), "nearest", pad_to_aspect_ratio=True).dtype == torch.uint8


def test_crop_then_resize_equals_resize_of_the_window():
    """§B7: crop slices the box, then resizes it with the same kernel."""
    img = _rand(20, 40)
    out = resize_image(img, (10, 10), "area", crop_to_aspect_ratio=True)
    assert torch.equal(out, resize(img[:, :, 10:30], (10, 10), "area"))


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(crop_to_aspect_ratio=True, pad_to_aspect_ratio=True),
     "Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set to `True`."),
    (dict(interpolation="gaussian", crop_to_aspect_ratio=True),
     "Invalid value for argument `interpolation`. Expected of one ('bilinear', 'nearest', "
     "'lanczos3', 'lanczos5', 'bicubic', 'area'). Received: interpolation=gaussian"),
    (dict(interpolation="mitchellcubic", crop_to_aspect_ratio=True),
     "Received: interpolation=mitchellcubic"),
])
def test_resize_image_errors(kwargs, message):
    """§B7/§B9: crop+pad and gaussian/mitchellcubic with crop raise Keras's texts."""
    with pytest.raises(ValueError, match=re.escape(message)):
        resize_image(_rand(4, 4), (2, 2), **kwargs)


# -- decoding ----
def _png(path, arr: np.ndarray, color_type: int) -> str:
    """Write a 16-bit PNG (color types 0, 2, 4, 6) by hand; PIL cannot write 16-bit colour."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(
            ">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
                 + chunk(b"IEND", b""))
    return str(path)


@pytest.mark.parametrize(("color_type", "channels_in"), [(0, 1), (2, 3), (4, 2), (6, 4)])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_png_keeps_high_byte(tmp_path, color_type, channels_in, channels):
    """§B7: 16-bit PNG -> high byte (60712 -> 237) in every colour mode; alpha 255 added."""
    arr = np.full((2, 3, channels_in), 60712, np.uint16)
    out = decode_image(_png(tmp_path / "a.png", arr.squeeze(-1) if channels_in == 1 else arr,
                            color_type), channels)
    assert out.dtype == torch.uint8 and tuple(out.shape) == (channels, 2, 3)
    assert torch.all(out[:3] == 237)
    if channels == 4 and channels_in in (1, 3):
        assert torch.all(out[3] == 255)


def test_alpha_dropped_for_rgb_added_for_rgba_and_libpng_gray(tmp_path):
    """§B7: rgb drops alpha, rgba adds 255, grayscale is libpng's luma ((37,235,140) -> 164)."""
    rgba = np.zeros((1, 2, 4), np.uint8)
    rgba[0, 0], rgba[0, 1] = (37, 235, 140, 9), (50, 50, 50, 0)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(rgba[..., :3], "RGB").save(tmp_path / "b.png")
    assert torch.equal(decode_image(str(tmp_path / "a.png"), 3),
                       torch.from_numpy(rgba[..., :3]).permute(2, 0, 1))
    rgba_b = decode_image(str(tmp_path / "b.png"), 4)
    assert torch.equal(rgba_b[3], torch.full((1, 2), 255, dtype=torch.uint8))
    assert decode_image(str(tmp_path / "a.png"), 1).flatten().tolist() == [164, 50]


def test_grayscale_jpeg_is_the_luma_plane(tmp_path):
    """§B7: channels=1 on a colour JPEG gives libjpeg's Y plane (as TF's JCS_GRAYSCALE)."""
    arr = (_rand(16, 16, c=3).permute(1, 2, 0).numpy() // 2 + 64).astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.jpg", quality=95, subsampling=0)
    gray = decode_image(str(tmp_path / "a.jpg"), 1)[0].int()
    with Image.open(tmp_path / "a.jpg") as img:
        luma = torch.from_numpy(np.asarray(img.convert("YCbCr"))[..., 0].copy()).int()
    assert gray.shape == (16, 16) and (gray - luma).abs().max() <= 2


@pytest.mark.parametrize(("fmt", "ext", "channels", "reason"), [
    ("GIF", "gif", 1, "`channels` must be 0 or 3 for GIF, but got 1"),
    ("GIF", "gif", 4, "`channels` must be 0 or 3 for GIF, but got 4"),
    ("BMP", "bmp", 1, "`channels` must be 0, 3 or 4 for BMP, but got 1"),
    ("JPEG", "jpg", 4, "JPEG does not support 4 channels"),
    ("TIFF", "png", 3, "Unknown image file format. One of JPEG, PNG, GIF, BMP required."),
])
def test_decoder_rejects_what_tf_rejects(tmp_path, fmt, ext, channels, reason):
    """§B7 / Part E 19: GIF gray/rgba, BMP gray, JPEG rgba, non-image formats fail."""
    path = tmp_path / f"a.{ext}"
    Image.fromarray(_rand(4, 4, c=3).permute(1, 2, 0).numpy()).save(path, format=fmt)
    with pytest.raises(ValueError, match=re.escape(reason)):
        decode_image(str(path), channels)


@pytest.mark.parametrize(("fmt", "ext"), [("GIF", "gif"), ("BMP", "bmp"), ("PNG", "png")])
def test_rgb_decode_of_lossless_formats_is_exact(tmp_path, fmt, ext):
    """§B7: PNG/BMP/GIF decode to the stored RGB values (GIF: first frame, palette colours)."""
    arr = np.array([[[0, 0, 0], [255, 0, 0]], [[0, 255, 0], [0, 0, 255]]], np.uint8)
    Image.fromarray(arr).save(tmp_path / f"a.{ext}", format=fmt)
    assert torch.equal(decode_image(str(tmp_path / f"a.{ext}"), 3),
                       torch.from_numpy(arr).permute(2, 0, 1))


def test_load_image_pipeline(tmp_path):
    """load_image = decode + resize: float32 (C, H, W), uint8 for nearest."""
    arr = _rand(6, 8, c=3).permute(1, 2, 0).numpy()
    Image.fromarray(arr).save(tmp_path / "a.png")
    out = load_image(str(tmp_path / "a.png"), 3, (3, 4), "bilinear")
    ref = resize(torch.from_numpy(arr).permute(2, 0, 1), (3, 4), "bilinear")
    assert out.dtype == torch.float32 and torch.equal(out, ref)
    assert load_image(str(tmp_path / "a.png"), 1, (3, 4), "nearest").dtype == torch.uint8
    with pytest.raises(OSError):
        load_image(str(tmp_path / "missing.png"), 3, (3, 4))
    assert issubclass(ImageDecodeError, OSError)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("method", METHODS)
def test_cuda_equals_cpu(method):
    """The kernels are device-agnostic: CUDA output equals CPU output (to float32 rounding)."""
    img = _rand(13, 17, c=3)
    cpu = resize(img, (7, 9), method)
    gpu = resize(img.cuda(), (7, 9), method).cpu()
    assert gpu.dtype == cpu.dtype
    torch.testing.assert_close(gpu.float(), cpu.float(), atol=1e-3, rtol=0)


def test_differential_against_tensorflow(tmp_path):
    """Only when TensorFlow is installed: our resizers and PNG decoder equal TF's."""
    tf = pytest.importorskip("tensorflow")
    for (src, dst) in SIZES:
        img = _rand(*src, c=3)
        hwc = tf.constant(img.permute(1, 2, 0).numpy())
        for method in METHODS:
            ref = tf.image.resize(hwc, dst, method=method, antialias=False).numpy()
            ours = resize(img, dst, method).permute(1, 2, 0).numpy()
            np.testing.assert_allclose(ours.astype(np.float64), ref.astype(np.float64),
                                       atol=1e-3, err_msg=method)
    arr = _rand(5, 6, c=4).permute(1, 2, 0).numpy()
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    data = tf.io.read_file(str(tmp_path / "a.png"))
    for channels in (1, 3, 4):
        ref = tf.io.decode_image(data, channels=channels, expand_animations=False).numpy()
        ours = decode_image(str(tmp_path / "a.png"), channels).permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(ours, ref)
