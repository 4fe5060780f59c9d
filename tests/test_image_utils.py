"""Keras's image utilities (``kdir_torch.keras.image_utils``) against real Keras.

keras-semantics §A8 (load_img / img_to_array), Part C (array_to_img, save_img, smart_resize,
list_pictures, validate_filename) and §A16 (messages). Images are built with PIL in
``tmp_path``; pixels, modes, shapes, dtypes, error types and texts are compared with
``keras.utils`` / ``keras.src.legacy.preprocessing.image``.
"""

from __future__ import annotations

import io
import os
import pathlib
import warnings

import numpy as np
import pytest
import torch
from imagetree import write_image
from PIL import Image

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
from keras.preprocessing.image import smart_resize as k_smart_resize  # noqa: E402
from keras.src.legacy.preprocessing.image import validate_filename as k_validate_filename  # noqa: E402
from keras.utils import array_to_img as k_array_to_img  # noqa: E402
from keras.utils import img_to_array as k_img_to_array  # noqa: E402
from keras.utils import load_img as k_load_img  # noqa: E402
from keras.utils import save_img as k_save_img  # noqa: E402

import kdir_torch as kt  # noqa: E402
from kdir_torch.keras import image_utils as U  # noqa: E402

pytestmark = pytest.mark.keras

FILE_MODES = ["RGB", "RGBA", "L", "I;16", "I", "P", "LA"]
# (target_size, keep_aspect_ratio, interpolation); the last one needs no resize (13x17 file).
RESIZES = [
    (None, False, "nearest"),
    ((8, 8), True, "bilinear"),
    ((20, 9), False, "lanczos"),
    ((5, 11), True, "bicubic"),
    ((13, 17), False, "not-a-filter"),
]


def image_file(tmp_path: pathlib.Path, mode: str, ext: str | None = None, seed: int = 3) -> str:
    ext = ext or (".tif" if mode == "I" else ".png")
    return write_image(str(tmp_path / f"{mode.replace(';', '')}{ext}"), 13, 17, mode=mode, seed=seed)


def same_error(exc: type, ref_call, got_call) -> None:
    with pytest.raises(exc) as ref:
        ref_call()
    with pytest.raises(exc) as got:
        got_call()
    assert str(got.value) == str(ref.value)


# -- load_img / img_to_array -------------------------------------------------------------------


@pytest.mark.parametrize("color_mode", ["rgb", "rgba", "grayscale"])
@pytest.mark.parametrize("file_mode", FILE_MODES)
def test_load_img_matches_keras(tmp_path: pathlib.Path, file_mode: str, color_mode: str) -> None:
    """§A8.2-§A8.4: conversions, resize filters, keep_aspect_ratio box, img_to_array layouts."""
    path = image_file(tmp_path, file_mode)
    for target_size, keep, interpolation in RESIZES:
        kw = dict(color_mode=color_mode, target_size=target_size, keep_aspect_ratio=keep,
                  interpolation=interpolation)
        ref, got = k_load_img(path, **kw), U.load_img(path, **kw)
        assert isinstance(got, Image.Image) and (got.mode, got.size) == (ref.mode, ref.size)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))
        for fmt in ("channels_last", "channels_first"):
            arr = k_img_to_array(ref, fmt)
            mine = U.img_to_array(got, fmt)
            assert mine.dtype == arr.dtype == np.float32 and mine.shape == arr.shape
            np.testing.assert_array_equal(mine, arr)
            t = U.load_img(path, **kw, as_tensor=True, data_format=fmt)
            assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
            np.testing.assert_array_equal(t.numpy(), arr)


def test_load_img_path_kinds(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = image_file(tmp_path, "RGB")
    ref = np.asarray(k_load_img(path))
    monkeypatch.chdir(tmp_path)
    rel = pathlib.Path(os.path.basename(path))

    class Fspath:
        def __fspath__(self) -> str:
            return path

    with open(path, "rb") as f:
        data = f.read()
    with open(path, "rb") as handle:
        sources = [path, rel, os.fsencode(path), io.BytesIO(data), handle, Fspath()]
        for source in sources:
            np.testing.assert_array_equal(np.asarray(U.load_img(source)), ref)
    same_error(TypeError, lambda: k_load_img(123), lambda: U.load_img(123))
    same_error(FileNotFoundError, lambda: k_load_img(str(tmp_path / "nope.png")),
               lambda: U.load_img(str(tmp_path / "nope.png")))


def test_load_img_errors_and_grayscale_flag(tmp_path: pathlib.Path) -> None:
    path = image_file(tmp_path, "RGB")
    same_error(ValueError, lambda: k_load_img(path, color_mode="hsv"),
               lambda: U.load_img(path, color_mode="hsv"))
    same_error(ValueError, lambda: k_load_img(path, target_size=(4, 4), interpolation="area"),
               lambda: U.load_img(path, target_size=(4, 4), interpolation="area"))
    with pytest.warns(UserWarning, match='grayscale is deprecated. Please use color_mode = "grayscale"'):
        gray = U.load_img(path, color_mode="rgb", grayscale=True)
    assert gray.mode == "L"
    np.testing.assert_array_equal(np.asarray(gray), np.asarray(k_load_img(path, color_mode="grayscale")))
    with pytest.raises(ValueError, match="only with `as_tensor=True`"):
        U.load_img(path, data_format="channels_first")
    with pytest.raises(TypeError, match="as_tensor"):
        U.load_img(path, as_tensor=1)


def test_load_img_as_tensor_dtypes(tmp_path: pathlib.Path) -> None:
    path = image_file(tmp_path, "I;16")
    img = k_load_img(path, color_mode="grayscale")
    for dtype, torch_dtype in [("uint8", torch.uint8), ("int32", torch.int32), (np.float64, torch.float64),
                               (torch.float16, torch.float16), (torch.int64, torch.int64)]:
        t = U.load_img(path, color_mode="grayscale", as_tensor=True, dtype=dtype,
                       data_format="channels_first")
        assert t.dtype == torch_dtype and t.shape == (1, 13, 17)
        np_dtype = torch.empty(0, dtype=torch_dtype).numpy().dtype
        np.testing.assert_array_equal(t.numpy(), k_img_to_array(img, "channels_first", np_dtype))
    bf = U.load_img(path, color_mode="grayscale", as_tensor=True, dtype=torch.bfloat16)
    assert bf.dtype == torch.bfloat16 and bf.shape == (13, 17, 1)
    assert kt.load_img is U.load_img


def test_img_to_array_dtypes_layouts_and_errors() -> None:
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8))
    for dtype in (None, "float64", "uint8", "int32", np.float16):
        for fmt in (None, "channels_last", "channels_first", "Channels_First"):
            ref, got = k_img_to_array(rgb, fmt, dtype), U.img_to_array(rgb, fmt, dtype)
            assert got.dtype == ref.dtype and got.shape == ref.shape and got.flags.writeable
            np.testing.assert_array_equal(got, ref)
    arr = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(U.img_to_array(arr, "channels_first"), k_img_to_array(arr, "channels_first"))
    same_error(ValueError, lambda: k_img_to_array(rgb, "channels_middle"),
               lambda: U.img_to_array(rgb, "channels_middle"))
    same_error(ValueError, lambda: k_img_to_array(np.zeros((1, 2, 3, 4))),
               lambda: U.img_to_array(np.zeros((1, 2, 3, 4))))
    t = U.img_to_array(rgb, "channels_first", as_tensor=True)
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.shape == (3, 4, 5)
    np.testing.assert_array_equal(t.numpy(), k_img_to_array(rgb, "channels_first"))
    with pytest.raises(TypeError, match="as_tensor=True"):
        U.img_to_array(rgb, dtype=torch.bfloat16)


# -- array_to_img / save_img -------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("value_range", [(0, 1), (-20, 300), (0, 255), (0, 70000)], ids=str)
def test_array_to_img_matches_keras(channels: int, value_range: tuple) -> None:
    """Part C: min-max scaling in float32, uint8 truncation, "I" for 1 channel above 255."""
    x = np.random.default_rng(channels).uniform(*value_range, (6, 7, channels))
    for scale in (True, False):
        for fmt, arr in (("channels_last", x), ("channels_first", x.transpose(2, 0, 1))):
            ref = k_array_to_img(arr, fmt, scale)
            got = U.array_to_img(arr, fmt, scale)
            assert (got.mode, got.size) == (ref.mode, ref.size)
            np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))
            tensor = U.array_to_img(torch.from_numpy(arr.copy()).requires_grad_(), fmt, scale)
            np.testing.assert_array_equal(np.asarray(tensor), np.asarray(ref))
    for peak in (255.0, 255.5):  # "I" only strictly above 255
        gray = np.linspace(0, peak, 12).reshape(3, 4, 1)
        ref, got = k_array_to_img(gray, scale=False), U.array_to_img(gray, scale=False)
        assert got.mode == ref.mode == ("L" if peak == 255 else "I")
        np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))
    ref = k_array_to_img(x, scale=True, dtype="float64")
    np.testing.assert_array_equal(np.asarray(U.array_to_img(x, scale=True, dtype="float64")), np.asarray(ref))


@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 5), (4, 5, 2), (1, 4, 5, 3)], ids=str)
def test_array_to_img_errors_are_keras_texts(shape: tuple) -> None:
    same_error(ValueError, lambda: k_array_to_img(np.ones(shape)), lambda: U.array_to_img(np.ones(shape)))


@pytest.mark.parametrize("name", ["a.png", "b.JPG", "c.jpeg", "d.bmp", "e.tiff"])
def test_save_img_matches_keras(tmp_path: pathlib.Path, name: str) -> None:
    x = np.random.default_rng(1).uniform(-1, 1, (6, 8, 3))
    (tmp_path / "k").mkdir()
    (tmp_path / "o").mkdir()
    k_save_img(str(tmp_path / "k" / name), x)
    U.save_img(tmp_path / "o" / name, x)  # a pathlib.Path works too
    ref, got = Image.open(tmp_path / "k" / name), Image.open(tmp_path / "o" / name)
    assert (got.format, got.mode, got.size) == (ref.format, ref.mode, ref.size)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))


def test_save_img_rgba_jpeg_warning_file_objects_and_errors(tmp_path: pathlib.Path) -> None:
    rgba = np.random.default_rng(2).uniform(0, 255, (4, 6, 4))
    with pytest.warns(UserWarning) as ref_w:
        k_save_img(str(tmp_path / "k.jpg"), rgba)
    with pytest.warns(UserWarning) as got_w:
        U.save_img(str(tmp_path / "o.jpg"), rgba)
    assert [str(w.message) for w in got_w] == [str(w.message) for w in ref_w]
    assert str(got_w[0].message) == "The JPEG format does not support RGBA images, converting to RGB."
    assert Image.open(tmp_path / "o.jpg").mode == "RGB"
    buf = io.BytesIO()
    U.save_img(buf, rgba.transpose(2, 0, 1), data_format="channels_first", file_format="png", scale=False)
    buf.seek(0)
    ref_buf = io.BytesIO()
    k_save_img(ref_buf, rgba.transpose(2, 0, 1), data_format="channels_first", file_format="png", scale=False)
    ref_buf.seek(0)
    np.testing.assert_array_equal(np.asarray(Image.open(buf)), np.asarray(Image.open(ref_buf)))
    same_error(ValueError, lambda: k_save_img(str(tmp_path / "k.png"), np.ones((4, 5, 2))),
               lambda: U.save_img(str(tmp_path / "o.png"), np.ones((4, 5, 2))))
    same_error(ValueError, lambda: k_save_img(str(tmp_path / "noext"), rgba),
               lambda: U.save_img(str(tmp_path / "noext"), rgba))


# -- smart_resize ------------------------------------------------------------------------------


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int32])
def test_smart_resize_matches_keras_torch_backend(interpolation: str, dtype: type) -> None:
    """Part C: Keras's float64 crop box, then its torch-backend resize; numpy in -> numpy out."""
    x = np.random.default_rng(3).uniform(0, 255, (2, 20, 40, 3)).astype(dtype)
    for size in [(20, 20), (7, 11), (30, 9), (40, 3), (5, 12), (1, 1)]:
        for arr, fmt in ((x, "channels_last"), (x.transpose(0, 3, 1, 2), "channels_first"),
                         (x[1], "channels_last"), (x[1].transpose(2, 0, 1), "channels_first")):
            ref = k_smart_resize(arr, size, interpolation, data_format=fmt)
            got = U.smart_resize(arr, size, interpolation, data_format=fmt)
            assert isinstance(got, np.ndarray) and got.dtype == ref.dtype and got.shape == ref.shape
            np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-3)


def test_smart_resize_crop_tensors_and_errors() -> None:
    x = np.random.default_rng(4).uniform(0, 1, (2, 20, 40, 3))
    np.testing.assert_array_equal(U.smart_resize(x, (20, 20)), x[:, :, 10:-10, :])
    t = torch.from_numpy(x)
    out = U.smart_resize(t, (10, 15), "bicubic")
    ref = k_smart_resize(t, (10, 15), "bicubic")
    assert isinstance(out, torch.Tensor) and isinstance(ref, torch.Tensor) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), ref.cpu().numpy(), atol=1e-9)
    as_t = U.smart_resize(x, (10, 15), as_tensor=True)
    assert isinstance(as_t, torch.Tensor) and as_t.shape == (2, 10, 15, 3)
    for bad in [dict(size=(1, 2, 3)), dict(size=(4, 4), interpolation="lanczos3"),
                dict(size=(4, 4), interpolation="area"), dict(size=(4, 4), data_format="nchw")]:
        same_error(ValueError, lambda: k_smart_resize(x, **bad), lambda: U.smart_resize(x, **bad))
    same_error(ValueError, lambda: k_smart_resize(x[0, 0], (4, 4)), lambda: U.smart_resize(x[0, 0], (4, 4)))


# -- list_pictures / validate_filename ---------------------------------------------------------


def test_list_pictures_walk_order_and_extensions(tmp_path: pathlib.Path) -> None:
    names = ["a.png", "B.JPG", "c.Jpeg", "d.txt", "e.tiff", "sub/f.bmp", "sub/deeper/g.ppm",
             "sub/h.png.bak", "sub/i.tif", "jpg"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    got = U.list_pictures(str(tmp_path))
    expected = {"a.png", "B.JPG", "c.Jpeg", "e.tiff", "sub/f.bmp", "sub/deeper/g.ppm", "sub/i.tif"}
    assert sorted(os.path.relpath(p, tmp_path) for p in got) == sorted(expected)
    walk = [os.path.join(r, f) for r, _, files in os.walk(str(tmp_path)) for f in files]
    assert got == [p for p in walk if p in set(got)]  # os.walk order, not sorted
    assert [os.path.basename(p) for p in U.list_pictures(tmp_path, ext="png")] == ["a.png"]
    assert U.list_pictures(tmp_path, ext=("JPG",)) == []  # extensions are compared as given
    assert kt.list_pictures is U.list_pictures


def test_validate_filename_matches_keras(tmp_path: pathlib.Path) -> None:
    for name in ("x.png", "y.PNG", "z.jpeg", "w.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "dir.png").mkdir()
    for name in ("x.png", "y.PNG", "z.jpeg", "w.txt", "dir.png", "missing.png"):
        path = str(tmp_path / name)
        for formats in (("png", "jpeg"), ("png",), "jpeg"):
            assert U.validate_filename(path, formats) is k_validate_filename(path, formats)
    assert U.validate_filename(tmp_path / "x.png", {"png"}) is True  # a Path and a set work too


def test_no_warnings_on_the_plain_path(tmp_path: pathlib.Path) -> None:
    path = image_file(tmp_path, "RGB", ext=".jpg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arr = U.img_to_array(U.load_img(path, target_size=(6, 6)))
        U.save_img(str(tmp_path / "copy.png"), arr)
        U.smart_resize(arr, (3, 4))
