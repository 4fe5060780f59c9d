"""The bad-input catalogue (docs/robustness.md): what every odd file or tree does, for real.

Every input is built in ``tmp_path`` with PIL / ``os`` and run through the legacy dataset
(``KerasDirDataset``, the ``ImageDataGenerator`` facade) and the modern one
(``image_dataset_from_directory`` / ``ModernDirDataset``) under both error policies:

* ``on_error="raise"``: ``ds[i]`` and ``make_loader`` raise ``kt.ImageDecodeError`` with
  ``.path`` and ``.index`` set and the file named in the message.
* ``on_error="skip"``: ``make_loader`` drops the sample, lists ``(index, path)`` in
  ``loader.skipped``, warns once per epoch and keeps labels aligned with the pixels.

The standard tree is ``tests/_trees.indexed_tree`` (classes ``a`` and ``b``, 3 files each, 8x8):
the file at listing position ``k`` has channel 0 equal to ``k`` and channel 1 equal to its class,
so order and labels can be read back from the tensors. The bad file is always position 4
(``b/001.*``). Where the policy is "same as Keras", the listing or the pixels are compared with
Keras 3 itself (``KERAS_BACKEND=torch``; skipped when keras is absent).

``TestGuards`` holds the guards kdir_torch adds on top of Keras (FIFOs, format confusion,
class names that leave the root, images directly in the root); see its docstring.
Every wait is bounded: anything that could block runs in a daemon thread joined with a timeout.
"""

from __future__ import annotations

import io
import os
import re
import struct
import sys
import threading
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from PIL import Image, features

import kdir_torch as kt
from _trees import indexed_tree
from kdir_torch.index import MODERN_EXTENSIONS

COUNTS = {"a": 3, "b": 3}  # listing positions 0..2 are class a, 3..5 class b
SIZE = (8, 8)
BAD = 4  # listing position of b/001.*
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# -- helpers ------------------------------------------------------------------------------------
def _tree(tmp_path, name: str = "root") -> str:
    return indexed_tree(tmp_path / name, COUNTS, size=SIZE)


def _legacy(root, **kw) -> kt.KerasDirDataset:
    kw.setdefault("target_size", SIZE)
    kw.setdefault("class_mode", "sparse")
    return kt.KerasDirDataset(root, verbose=False, **kw)


def _modern_from(ds: kt.KerasDirDataset, **kw) -> kt.ModernDirDataset:
    """The element dataset of the modern API over the same files and labels as ``ds``."""
    kw.setdefault("image_size", SIZE)
    kw.setdefault("interpolation", "nearest")  # uint8, exact pixels
    return kt.ModernDirDataset(list(ds.filepaths), ds.classes, class_names=ds.class_names,
                               label_mode="int", **kw)


def _loader(ds, batch_size: int = 4, **kw):
    kw.setdefault("num_workers", 0)
    return kt.make_loader(ds, batch_size=batch_size, shuffle=False, return_indices=True, **kw)


def _noisy(h: int = 64, w: int = 64, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8))


def _encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_bytes(arr, bit_depth: int, colour_type: int, size: tuple[int, int] | None = None) -> bytes:
    """A minimal PNG (PIL cannot write 16-bit colour PNGs).

    Args:
        arr: ``(H, W)`` or ``(H, W, C)`` samples (uint16 for ``bit_depth=16``).
        bit_depth: 8 or 16.
        colour_type: 0 gray, 2 RGB, 4 gray+alpha, 6 RGBA.
        size: ``(width, height)`` written to IHDR instead of ``arr``'s (for a header that
            claims more pixels than the data holds).
    """
    arr = np.asarray(arr)
    width, height = size or (arr.shape[1], arr.shape[0])

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    samples = arr.astype(">u2" if bit_depth == 16 else np.uint8).reshape(arr.shape[0], -1)
    raw = b"".join(b"\0" + row.tobytes() for row in samples)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _write(path, data: bytes) -> str:
    with open(path, "wb") as fh:
        fh.write(data)
    return str(path)


def _replace_bad(root: str, ext: str) -> str:
    """Remove ``b/001.png`` and return the path the bad file of extension ``ext`` goes to."""
    os.remove(os.path.join(root, "b", "001.png"))
    return os.path.join(root, "b", "001" + ext)


def _check_error(err: BaseException, path: str, index: int) -> None:
    """An ``ImageDecodeError`` carrying ``path`` and ``index`` and naming the file."""
    assert isinstance(err, kt.ImageDecodeError), repr(err)
    assert err.path == path and err.index == index
    assert repr(path) in str(err) or path in str(err)
    assert f"sample {index}" in str(err)


def _bounded(fn: Callable[[], object], timeout: float = 10.0, fifo: str | None = None):
    """``fn()`` in a daemon thread: its result, or its exception re-raised here.

    Fails the test when ``fn`` is still running after ``timeout`` s; a reader blocked on
    ``fifo`` is then released (a writer opens and closes it) so the thread can end.
    """
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        if fifo is not None:
            _release_fifo(fifo, thread)
        pytest.fail(f"still running after {timeout:.0f} s: the call blocks (hangs)")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


def _release_fifo(path: str, thread: threading.Thread, budget: float = 5.0) -> None:
    """Open ``path`` for writing and close it until ``thread`` (blocked reading it) ends."""
    deadline = time.monotonic() + budget
    while thread.is_alive() and time.monotonic() < deadline:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader has it open right now
            time.sleep(0.01)
            continue
        os.close(fd)
        thread.join(0.1)


def _keras_legacy():
    """Keras's legacy preprocessing module (torch backend), or skip."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras.src.legacy.preprocessing.image")


def _keras_image_utils():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras.src.utils.image_utils")


def _keras_flow(root, **kw):
    """Keras's own ``DirectoryIterator`` over ``root`` (listing only; warnings silenced)."""
    kimg = _keras_legacy()
    kw.setdefault("target_size", SIZE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kimg.ImageDataGenerator().flow_from_directory(root, shuffle=False, **kw)


def _keras_modern_index(root, **kw):
    """Keras's ``image_dataset_from_directory`` listing (``dataset_utils.index_directory``)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    du = pytest.importorskip("keras.src.utils.dataset_utils")
    return du.index_directory(root, "inferred", formats=MODERN_EXTENSIONS, shuffle=False,
                              verbose=False, **kw)


def _keras_pixels(path, color_mode="rgb", target_size=None, interpolation="nearest"):
    iu = _keras_image_utils()
    return iu.img_to_array(iu.load_img(path, color_mode=color_mode, target_size=target_size,
                                       interpolation=interpolation))


def _legacy_hwc(ds: kt.KerasDirDataset, i: int) -> np.ndarray:
    """``ds[i]`` of a channels_last dataset as float numpy ``(H, W, C)``."""
    out = ds[i]
    return (out[0] if isinstance(out, tuple) else out).numpy()


def _names(table) -> list[str]:
    return [f.replace(os.sep, "/") for f in table]


# -- bad files: raise and skip, legacy and modern ----------------------------------------------
@dataclass(frozen=True)
class BadFile:
    """How to break listing position 4 of the standard tree.

    ``before`` writes the bad file (given the tree root, returns its path) before indexing;
    ``after`` (given that path) runs once the dataset is built.
    """

    before: Callable[[str], str]
    after: Callable[[str], None] | None = None


def _corrupt_png(root: str) -> str:
    data = bytearray(_encoded(_noisy(), "PNG"))
    start = data.find(b"IDAT") + 4
    data[start:start + 64] = b"\xaa" * 64  # valid signature and IHDR, garbage image data
    return _write(_replace_bad(root, ".png"), bytes(data))


def _truncated(fmt: str, ext: str, keep: Callable[[int], int] = lambda n: n // 2,
               ) -> Callable[[str], str]:
    def make(root: str) -> str:
        data = _encoded(_noisy(), fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        return _write(_replace_bad(root, ext), data[: keep(len(data))])
    return make


def _bomb(root: str) -> str:
    """A PNG whose IHDR claims 100000 x 100000 pixels (the data holds one): 10**10 pixels is
    over ``2 * Image.MAX_IMAGE_PIXELS``, so PIL raises ``DecompressionBombError`` at open."""
    assert 100_000 ** 2 > 2 * Image.MAX_IMAGE_PIXELS
    return _write(_replace_bad(root, ".png"),
                  png_bytes(np.zeros((1, 1), np.uint8), 8, 0, size=(100_000, 100_000)))


def _dangling(root: str) -> str:
    path = _replace_bad(root, ".png")
    os.symlink(os.path.join(root, "no-such-file.png"), path)
    return path


def _same_path(root: str) -> str:
    return os.path.join(root, "b", "001.png")


BAD_FILES = {
    "corrupt_bytes": BadFile(_corrupt_png),
    "truncated_jpeg": BadFile(_truncated("JPEG", ".jpg")),
    "jpeg_without_eoi": BadFile(_truncated("JPEG", ".jpg", lambda n: n - 2)),  # last 2 bytes
    "truncated_png": BadFile(_truncated("PNG", ".png")),
    "zero_byte": BadFile(lambda root: _write(_replace_bad(root, ".png"), b"")),
    "text_as_png": BadFile(lambda root: _write(_replace_bad(root, ".png"),
                                               b"name,label\ncat,1\ndog,0\n")),
    "decompression_bomb": BadFile(_bomb),
    "dangling_symlink": BadFile(_dangling),
    "deleted_after_indexing": BadFile(_same_path, os.remove),
    "unreadable_chmod_000": BadFile(_same_path, lambda p: os.chmod(p, 0)),
}
BAD_IDS = [
    pytest.param(name, id=name, marks=pytest.mark.skipif(
        IS_ROOT, reason="root can read a chmod 000 file")) if name == "unreadable_chmod_000"
    else pytest.param(name, id=name)
    for name in BAD_FILES
]


def _broken_tree(tmp_path, case: str) -> tuple[str, str, Callable[[], None]]:
    """The standard tree with position 4 broken: ``(root, bad path, run-after-indexing)``."""
    root = _tree(tmp_path)
    bad = BAD_FILES[case]
    path = bad.before(root)
    return root, path, (lambda: bad.after(path)) if bad.after else (lambda: None)


def _check_skipped_batches(batches, ds, loader, path: str) -> None:
    """The bad sample is gone, every other one is there with its own label."""
    xs, ys, idx = (torch.cat(parts) for parts in zip(*batches))
    assert idx.tolist() == [0, 1, 2, 3, 5]
    assert [b[0].shape[0] for b in batches] == [4, 1]  # the batch that lost it is smaller
    assert xs[:, 0, 0, 0].tolist() == idx.tolist()  # pixels are the files' own
    assert xs[:, 1, 0, 0].tolist() == ds.classes[idx.numpy()].tolist()  # channel 1 = class
    assert ys.tolist() == ds.classes[idx.numpy()].tolist()  # labels aligned
    assert loader.skipped == [(BAD, path)]


@pytest.mark.parametrize("case", BAD_IDS)
def test_bad_file_raises_in_legacy(tmp_path, case):
    root, path, after = _broken_tree(tmp_path, case)
    ds = _legacy(root)
    after()
    assert ds.filepaths[BAD] == path  # listed (a bad file is never silently dropped)
    with pytest.raises(kt.ImageDecodeError) as info:
        ds[BAD]
    _check_error(info.value, path, BAD)
    if case == "decompression_bomb":
        assert isinstance(info.value.__cause__, Image.DecompressionBombError)
    assert ds[5][0][0, 0, 0] == 5  # the other files are unaffected
    with pytest.raises(kt.ImageDecodeError) as info:
        list(_loader(ds))
    _check_error(info.value, path, BAD)
    with pytest.raises(Exception):  # Keras's load_img fails too (PIL's bare exception)
        _keras_image_utils().load_img(path, target_size=SIZE)


@pytest.mark.parametrize("case", BAD_IDS)
def test_bad_file_skipped_in_legacy(tmp_path, case):
    root, path, after = _broken_tree(tmp_path, case)
    ds = _legacy(root, on_error="skip")
    after()
    loader = _loader(ds)
    with pytest.warns(UserWarning, match=r"Skipped 1 image"):
        batches = list(loader)
    _check_skipped_batches(batches, ds, loader, path)
    with pytest.raises(kt.ImageDecodeError):  # ds[i] always raises, whatever the policy
        ds[BAD]


@pytest.mark.parametrize("case", BAD_IDS)
def test_bad_file_raises_in_modern(tmp_path, case):
    root, path, after = _broken_tree(tmp_path, case)
    element = _modern_from(_legacy(root))
    batched = kt.image_dataset_from_directory(root, image_size=SIZE, batch_size=4,
                                              shuffle=False, interpolation="nearest",
                                              verbose=False)
    after()
    assert batched.file_paths[BAD] == path
    with pytest.raises(kt.ImageDecodeError) as info:
        element[BAD]
    _check_error(info.value, path, BAD)
    with pytest.raises(kt.ImageDecodeError) as info:
        list(batched)
    _check_error(info.value, path, BAD)
    with pytest.raises(kt.ImageDecodeError) as info:
        list(_loader(element))
    _check_error(info.value, path, BAD)


@pytest.mark.parametrize("case", BAD_IDS)
def test_bad_file_skipped_in_modern(tmp_path, case):
    root, path, after = _broken_tree(tmp_path, case)
    legacy = _legacy(root)
    element = _modern_from(legacy, on_error="skip")
    after()
    loader = _loader(element)
    with pytest.warns(UserWarning, match=r"Skipped 1 image"):
        batches = list(loader)
    _check_skipped_batches(batches, legacy, loader, path)


@pytest.mark.parametrize("api", ["legacy", "modern"])
def test_decompression_bomb_limit_follows_pil(tmp_path, monkeypatch, api):
    """PIL's own limit decides, read when the file is opened: over ``2 * MAX_IMAGE_PIXELS`` is
    an error, over ``MAX_IMAGE_PIXELS`` only PIL's ``DecompressionBombWarning`` (the image is
    decoded)."""
    legacy = _legacy(_tree(tmp_path))  # 8x8 = 64 pixels per image
    ds = legacy if api == "legacy" else _modern_from(legacy)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)  # 64 > 40, 64 < 80: warning only
    with pytest.warns(Image.DecompressionBombWarning):
        assert ds[BAD][0][0, 0, 0] == BAD
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 20)  # 64 > 2 * 20: error
    with pytest.raises(kt.ImageDecodeError) as info:
        ds[BAD]
    _check_error(info.value, ds.filepaths[BAD] if api == "legacy" else ds.file_paths[BAD], BAD)
    assert isinstance(info.value.__cause__, Image.DecompressionBombError)


def test_bad_files_with_two_persistent_workers(tmp_path):
    """Across worker processes: ``.path``/``.index`` survive, skipping is the same."""
    root = _tree(tmp_path)
    bad = {1: _write(os.path.join(root, "a", "001.png"), b""),
           4: _bomb(root)}
    ds = _legacy(root, on_error="skip")
    loader = _loader(ds, batch_size=2, num_workers=2, persistent_workers=True, timeout=60)
    for _epoch in range(2):  # the same workers serve both epochs
        with pytest.warns(UserWarning, match=r"Skipped 2 image") as rec:
            batches = list(loader)
        assert len([w for w in rec if "Skipped" in str(w.message)]) == 1
        idx = torch.cat([b[2] for b in batches])
        assert idx.tolist() == [0, 2, 3, 5]
        for x, y, i in batches:
            assert x[:, 0, 0, 0].tolist() == i.tolist()
            assert y.tolist() == ds.classes[i.numpy()].tolist()
        assert sorted(loader.skipped) == sorted(bad.items())
    strict = _loader(_legacy(root), batch_size=2, num_workers=2, persistent_workers=True,
                     timeout=60)
    with pytest.raises(kt.ImageDecodeError) as info:
        list(strict)
    _check_error(info.value, bad[1], 1)
    del info  # frame -> info -> traceback -> frame would keep both loaders' workers for the GC


# -- pixels: formats and colour modes (legacy equals Keras's load_img + img_to_array) ----------
@pytest.mark.parametrize("content, name", [("JPEG", "x.png"), ("PNG", "x.jpg")])
def test_wrong_extension_decodes_by_content(tmp_path, content, name):
    """Format sniffed from content (as Keras/PIL and TF): a JPEG named .png decodes fine."""
    os.makedirs(tmp_path / "r" / "a")
    path = _write(tmp_path / "r" / "a" / name, _encoded(_noisy(8, 8), content))
    ds = _legacy(tmp_path / "r", target_size=None, data_format="channels_last")
    with Image.open(path) as img:
        assert img.format == content
        want = np.asarray(img.convert("RGB"), np.float32)
    np.testing.assert_array_equal(_legacy_hwc(ds, 0), want)
    modern = _modern_from(ds, data_format="channels_last")
    np.testing.assert_array_equal(modern[0][0].numpy(), want.astype(np.uint8))
    np.testing.assert_array_equal(_legacy_hwc(ds, 0), _keras_pixels(path))


def test_cmyk_jpeg(tmp_path):
    """Legacy: PIL's CMYK conversions in every colour mode, as Keras. Modern: rgb decodes;
    grayscale and rgba are rejected as TF's decoder rejects them."""
    os.makedirs(tmp_path / "r" / "a")
    path = _write(tmp_path / "r" / "a" / "cmyk.jpg",
                  _encoded(_noisy(8, 8).convert("CMYK"), "JPEG", quality=95))
    for mode, channels in (("grayscale", 1), ("rgb", 3), ("rgba", 4)):
        ds = _legacy(tmp_path / "r", target_size=None, color_mode=mode,
                     data_format="channels_last")
        got = _legacy_hwc(ds, 0)
        assert got.shape == (8, 8, channels)
        np.testing.assert_array_equal(got, _keras_pixels(path, mode))
    modern = _modern_from(ds, color_mode="rgb")
    assert tuple(modern[0][0].shape) == (3, 8, 8)
    for mode, reason in (("grayscale", "CMYK JPEG"), ("rgba", "4 channels")):
        with pytest.raises(kt.ImageDecodeError, match=reason) as info:
            _modern_from(ds, color_mode=mode)[0]
        _check_error(info.value, path, 0)


PNG16 = {"gray": (0, 1), "gray_alpha": (4, 2), "rgb": (2, 3), "rgba": (6, 4)}


@pytest.mark.parametrize("color_mode", ["grayscale", "rgb", "rgba"])
@pytest.mark.parametrize("png_mode", list(PNG16))
def test_16bit_png(tmp_path, png_mode, color_mode):
    """16-bit grayscale stays 0..65535 (int32 raw, exact floats) in legacy grayscale; every other
    combination is PIL's conversion, equal to Keras's ``img_to_array(load_img(...))``."""
    colour_type, samples = PNG16[png_mode]
    os.makedirs(tmp_path / "r" / "a")
    values = np.random.default_rng(1).integers(0, 65536, (4, 5, samples), dtype=np.uint16)
    values[0, 0] = 65535
    path = _write(tmp_path / "r" / "a" / "x.png",
                  png_bytes(values[..., 0] if samples == 1 else values, 16, colour_type))
    ds = _legacy(tmp_path / "r", target_size=None, color_mode=color_mode,
                 data_format="channels_last")
    raw = ds.load_raw(0)
    got = _legacy_hwc(ds, 0)
    if png_mode == "gray" and color_mode == "grayscale":
        assert raw.dtype == torch.int32
        np.testing.assert_array_equal(got[..., 0], values[..., 0].astype(np.float32))
    else:
        assert raw.dtype == torch.uint8 and got.max() <= 255
    np.testing.assert_array_equal(got, _keras_pixels(path, color_mode))


def test_16bit_png_modern_keeps_the_high_byte(tmp_path):
    """Modern (TF's rule): every colour mode of a 16-bit gray PNG is ``v >> 8``."""
    values = np.random.default_rng(2).integers(0, 65536, (4, 5), dtype=np.uint16)
    path = _write(tmp_path / "g16.png", png_bytes(values, 16, 0))
    for mode, channels in (("grayscale", 1), ("rgb", 3), ("rgba", 3)):
        x = kt.ModernDirDataset([path], image_size=(4, 5), interpolation="nearest",
                                color_mode=mode)[0]
        np.testing.assert_array_equal(x[:channels].numpy(),
                                      np.broadcast_to(values >> 8, (channels, 4, 5)))


def test_palette_png_with_transparency(tmp_path):
    """rgb drops the transparency, rgba turns the transparent index into alpha 0 (both APIs);
    legacy pixels equal Keras's in every colour mode."""
    os.makedirs(tmp_path / "r" / "a")
    pal = _noisy(8, 8).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    path = str(tmp_path / "r" / "a" / "p.png")
    pal.save(path, transparency=0)
    transparent = np.asarray(pal) == 0
    assert transparent.any() and not transparent.all()
    for mode in ("grayscale", "rgb", "rgba"):
        ds = _legacy(tmp_path / "r", target_size=None, color_mode=mode,
                     data_format="channels_last")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no PIL warning about palette transparency here
            got = _legacy_hwc(ds, 0)
        if mode == "rgba":
            assert (got[..., 3] == 0).tolist() == transparent.tolist()
            alpha = _modern_from(ds, color_mode="rgba")[0][0][3].numpy()
            assert (alpha == 0).tolist() == transparent.tolist()
        np.testing.assert_array_equal(got, _keras_pixels(path, mode))


def test_animated_gif_not_listed_in_legacy_first_frame_in_modern(tmp_path):
    root = tmp_path / "r"
    os.makedirs(root / "a")
    frames = [Image.new("RGB", (6, 6), (c, 0, 0)) for c in (10, 200, 60)]
    frames[0].save(root / "a" / "anim.gif", save_all=True, append_images=frames[1:],
                   duration=50, loop=0)
    Image.new("RGB", (6, 6), (1, 2, 3)).save(root / "a" / "still.png")
    assert _names(_legacy(root).filenames) == ["a/still.png"]  # .gif is not a legacy extension
    batched = kt.image_dataset_from_directory(root, image_size=(6, 6), shuffle=False,
                                              interpolation="nearest", verbose=False)
    assert [os.path.basename(p) for p in batched.file_paths] == ["anim.gif", "still.png"]
    x, _ = next(iter(batched))
    assert x[0, :, :, 0].unique().tolist() == [10]  # the first frame, channels_last
    assert _keras_flow(root).filenames == ["a/still.png"]


def test_exif_orientation_is_not_applied(tmp_path):
    """Orientation 6 ("rotate 90 CW") is ignored, as Keras and TF: stored pixels, stored shape."""
    root = tmp_path / "r"
    os.makedirs(root / "a")
    stored = np.zeros((4, 8, 3), np.uint8)
    stored[:, :4] = (250, 0, 0)  # left half red, right half black
    exif = Image.Exif()
    exif[0x0112] = 6
    path = str(root / "a" / "rot.jpg")
    Image.fromarray(stored).save(path, quality=95, exif=exif.tobytes())
    with Image.open(path) as img:
        assert img.getexif()[0x0112] == 6
    ds = _legacy(root, target_size=None, data_format="channels_last")
    got = _legacy_hwc(ds, 0)
    assert got.shape == (4, 8, 3)  # not (8, 4, 3)
    assert got[:, :3, 0].min() > 200 and got[:, 5:, 0].max() < 50
    modern = _modern_from(ds, image_size=(4, 8), data_format="channels_last")[0][0].numpy()
    np.testing.assert_array_equal(modern, got.astype(np.uint8))
    np.testing.assert_array_equal(got, _keras_pixels(path))


def test_one_pixel_and_large_images_are_resized(tmp_path):
    """A 1x1 PNG and a 4000x3000 JPEG (12 Mpx, under PIL's bomb limit) resize to the target."""
    root = tmp_path / "r"
    os.makedirs(root / "a")
    Image.new("RGB", (1, 1), (7, 8, 9)).save(root / "a" / "1_tiny.png")
    large = str(root / "a" / "2_large.jpg")
    Image.new("RGB", (4000, 3000), (200, 100, 50)).save(large, quality=95)
    ds = _legacy(root, data_format="channels_last")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        tiny, big = _legacy_hwc(ds, 0), _legacy_hwc(ds, 1)
    assert tiny.shape == big.shape == (8, 8, 3)
    assert (tiny.reshape(-1, 3) == (7, 8, 9)).all()
    assert np.abs(big.reshape(-1, 3) - (200, 100, 50)).max() <= 3
    for interpolation in ("nearest", "bilinear"):
        modern = _modern_from(ds, interpolation=interpolation)
        tiny_modern = modern[0][0].float().reshape(3, -1).T
        assert torch.allclose(tiny_modern, torch.tensor([7.0, 8, 9]).expand_as(tiny_modern),
                              atol=1e-4)
        assert tuple(modern[1][0].shape) == (3, 8, 8)
    np.testing.assert_array_equal(big, _keras_pixels(large, target_size=SIZE))
    np.testing.assert_array_equal(tiny, _keras_pixels(str(root / "a" / "1_tiny.png"),
                                                      target_size=SIZE))


def test_file_replaced_after_indexing_reads_the_new_pixels(tmp_path):
    """The index holds names only: a file swapped after indexing is read as it is now (new
    pixels, resized to the target); its label is still its folder's."""
    root = _tree(tmp_path)
    ds = _legacy(root)
    Image.new("RGB", (16, 12), (250, 1, 2)).save(ds.filepaths[BAD])
    x, y = ds[BAD]
    assert tuple(x.shape) == (3, 8, 8) and x[:, 0, 0].tolist() == [250, 1, 2]
    assert y == 1
    xs, _, idx = next(b for b in _loader(ds) if BAD in b[2].tolist())
    assert xs[idx.tolist().index(BAD), :, 0, 0].tolist() == [250, 1, 2]
    assert _modern_from(ds)[BAD][0][:, 0, 0].tolist() == [250, 1, 2]


# -- listing ------------------------------------------------------------------------------------
@pytest.mark.parametrize("follow_links", [False, True])
def test_symlink_loop_in_class_folder_terminates(tmp_path, follow_links):
    """``a/sub/loop -> a``: the listing ends either way. With ``follow_links=True`` the files
    below the loop are listed once per nesting level until the OS refuses the path (ELOOP),
    exactly as Keras's ``os.walk(followlinks=True)``; without, the link is not descended."""
    root = tmp_path / "r"
    os.makedirs(root / "a" / "sub")
    os.makedirs(root / "b")
    for rel, v in (("a/0.png", 0), ("a/sub/1.png", 1), ("b/2.png", 2)):
        Image.new("RGB", (4, 4), (v, 0, 0)).save(root / rel)
    os.symlink(root / "a", root / "a" / "sub" / "loop")
    ds = _bounded(lambda: _legacy(root, follow_links=follow_links))
    names = _names(ds.filenames)
    if follow_links:
        assert len(names) > 3 and names[0] == "a/0.png" and names[-1] == "b/2.png"
        assert all(os.path.isfile(p) for p in ds.filepaths)
    else:
        assert names == ["a/0.png", "a/sub/1.png", "b/2.png"]
    values = [ds[i][0][0, 0, 0].item() for i in range(len(ds))]  # every listed path loads
    assert values == [float(n[-5]) for n in names]  # "…/0.png" holds 0, "…/1.png" 1, ...
    modern = _bounded(lambda: kt.index_directory(root, follow_links=follow_links,
                                                 formats="modern"))
    assert _names(modern.filenames) == names
    assert list(_keras_flow(root, follow_links=follow_links).filenames) == list(ds.filenames)
    paths, _, _ = _keras_modern_index(str(root), follow_links=follow_links)
    assert paths == list(modern.filepaths)


def test_symlinks_to_files_and_folders_outside_the_root(tmp_path):
    """A file symlink is listed and loaded (the target's pixels); a dangling one is listed and
    fails to decode; a symlinked class folder is a class; a symlinked sub-folder of a class is
    descended only with ``follow_links=True``. Listings equal Keras's (legacy and modern)."""
    outside = tmp_path / "outside"
    os.makedirs(outside / "dir")
    Image.new("RGB", (4, 4), (99, 0, 0)).save(outside / "o.png")
    Image.new("RGB", (4, 4), (98, 0, 0)).save(outside / "dir" / "d.png")
    root = tmp_path / "r"
    os.makedirs(root / "a")
    Image.new("RGB", (4, 4), (1, 0, 0)).save(root / "a" / "0.png")
    os.symlink(outside / "o.png", root / "a" / "link.png")
    os.symlink(outside / "missing.png", root / "a" / "dangling.png")
    os.symlink(outside / "dir", root / "a" / "subdir")
    os.symlink(outside / "dir", root / "c")
    for follow_links in (False, True):
        ds = _legacy(root, follow_links=follow_links)
        names = _names(ds.filenames)
        want = ["a/0.png", "a/dangling.png", "a/link.png"]
        want += ["a/subdir/d.png"] if follow_links else []
        assert names == want + ["c/d.png"]
        assert ds.class_indices == {"a": 0, "c": 1}
        with pytest.raises(kt.ImageDecodeError) as info:
            ds[1]
        _check_error(info.value, ds.filepaths[1], 1)
        assert [ds[i][0][0, 0, 0].item() for i in range(len(ds)) if i != 1] == \
            [1, 99] + ([98] if follow_links else []) + [98]
        assert list(_keras_flow(root, follow_links=follow_links).filenames) == list(ds.filenames)
        modern = kt.image_dataset_from_directory(root, image_size=(4, 4), shuffle=False,
                                                 follow_links=follow_links, verbose=False)
        paths, _, classes = _keras_modern_index(str(root), follow_links=follow_links)
        assert list(modern.file_paths) == paths and modern.class_names == classes


def test_unicode_and_newline_names(tmp_path):
    """Non-ASCII class and file names, and a newline inside a name, are listed (Keras's order)
    and loaded; an error on such a file names it (``repr``, so the message stays one line)."""
    root = tmp_path / "r"
    files = {"Klasse_ß/ünï ☃.png": 1, "Klasse_ß/日本語.png": 2, "b/new\nline.png": 3,
             "b/e\u0301.png": 4}
    for rel, v in files.items():
        os.makedirs(os.path.dirname(root / rel), exist_ok=True)
        Image.new("RGB", (4, 4), (v, 0, 0)).save(root / rel)
    _write(root / "b" / "bad\nname.png", b"not an image")
    ds = _legacy(root)
    assert set(_names(ds.filenames)) == set(files) | {"b/bad\nname.png"}
    for i, rel in enumerate(_names(ds.filenames)):
        if rel in files:
            assert ds[i][0][0, 0, 0] == files[rel]
    bad = _names(ds.filenames).index("b/bad\nname.png")
    with pytest.raises(kt.ImageDecodeError) as info:
        ds[bad]
    _check_error(info.value, ds.filepaths[bad], bad)
    assert "\n" not in str(info.value).split(": ", 1)[0]
    assert list(_keras_flow(root).filenames) == list(ds.filenames)
    assert _keras_flow(root).class_indices == ds.class_indices
    paths, _, _ = _keras_modern_index(str(root))
    modern = kt.image_dataset_from_directory(root, image_size=(4, 4), shuffle=False,
                                             verbose=False)
    assert list(modern.file_paths) == paths


def test_non_utf8_byte_name(tmp_path):
    """``b'\\xff.png'`` is listed as the surrogate-escaped ``'\\udcff.png'`` (``os.fsdecode``),
    maps back to the same bytes and loads; an error on such a name can be printed as UTF-8."""
    if sys.getfilesystemencoding().lower() not in ("utf-8", "utf8"):
        pytest.skip("needs a UTF-8 file system encoding")
    root = _tree(tmp_path)
    try:
        _write(os.fsencode(os.path.join(root, "b")) + b"/\xff.png",
               _encoded(Image.new("RGB", SIZE, (77, 0, 0)), "PNG"))
        _write(os.fsencode(os.path.join(root, "b")) + b"/\xfe.png", b"not an image")
    except OSError as exc:  # a file system that only takes valid UTF-8 names
        pytest.skip(f"cannot create a non-UTF-8 name here: {exc}")
    ds = _legacy(root, on_error="skip")
    names = _names(ds.filenames)
    assert names[-2:] == ["b/\udcfe.png", "b/\udcff.png"]
    good, bad = len(ds) - 1, len(ds) - 2
    assert os.fsencode(ds.filepaths[good]).endswith(b"/b/\xff.png")
    x, y = ds[good]
    assert x[0, 0, 0] == 77 and y == 1
    with pytest.raises(kt.ImageDecodeError) as info:
        ds[bad]
    _check_error(info.value, ds.filepaths[bad], bad)
    str(info.value).encode("utf-8")  # printable
    loader = _loader(ds)
    with pytest.warns(UserWarning, match="Skipped 1 image") as rec:
        batches = list(loader)
    assert loader.skipped == [(bad, ds.filepaths[bad])]
    assert torch.cat([b[2] for b in batches]).tolist() == [0, 1, 2, 3, 4, 5, good]
    [str(w.message).encode("utf-8") for w in rec]
    modern = kt.image_dataset_from_directory(root, image_size=SIZE, shuffle=False,
                                             verbose=False)
    assert list(modern.file_paths)[-2:] == list(ds.filepaths)[-2:]
    assert list(_keras_flow(root).filenames) == list(ds.filenames)


def test_empty_class_folder_keeps_its_index(tmp_path):
    """An empty class folder is a class with 0 files: later classes keep their indices and the
    one-hot width counts it (legacy and modern), as Keras."""
    root = tmp_path / "r"
    for rel in ("a/0.png", "c/1.png"):
        os.makedirs(os.path.dirname(root / rel), exist_ok=True)
        Image.new("RGB", (4, 4)).save(root / rel)
    os.makedirs(root / "b")
    ds = _legacy(root, class_mode="categorical")
    assert ds.class_indices == {"a": 0, "b": 1, "c": 2} and ds.classes.tolist() == [0, 2]
    assert ds[1][1].tolist() == [0.0, 0.0, 1.0]
    modern = kt.image_dataset_from_directory(root, image_size=(4, 4), shuffle=False,
                                             label_mode="categorical", verbose=False)
    assert modern.class_names == ["a", "b", "c"]
    assert next(iter(modern))[1].tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    keras_it = _keras_flow(root)
    assert keras_it.class_indices == ds.class_indices
    assert keras_it.classes.tolist() == ds.classes.tolist()
    assert _keras_modern_index(str(root))[2] == modern.class_names


def test_empty_tree_has_no_samples(tmp_path):
    """A root without sub-folders: 0 samples, 0 classes, a loader with no batches (legacy);
    the modern API raises Keras's "No images found" ValueError."""
    root = tmp_path / "r"
    os.makedirs(root)
    ds = _legacy(root)
    assert len(ds) == 0 and ds.num_classes == 0 and ds.class_indices == {}
    loader = _loader(ds)
    assert len(loader) == 0 and list(loader) == []
    with pytest.raises(ValueError, match="No images found in directory"):
        kt.image_dataset_from_directory(root, verbose=False)
    assert _keras_flow(root).samples == 0


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_root_missing_or_a_file(tmp_path, kind):
    """``FileNotFoundError`` / ``NotADirectoryError`` from the listing, in both APIs (Keras's
    types). With an explicit ``classes=`` the legacy API does not list the root itself: every
    class is empty (0 samples), exactly as Keras."""
    root = tmp_path / "r"
    if kind == "file":
        _write(root, _encoded(Image.new("RGB", (4, 4)), "PNG"))
    error = FileNotFoundError if kind == "missing" else NotADirectoryError
    with pytest.raises(error):
        _legacy(root)
    with pytest.raises(error):
        kt.image_dataset_from_directory(root, verbose=False)
    ds = _legacy(root, classes=["a"])
    assert len(ds) == 0 and ds.class_indices == {"a": 0}
    with pytest.raises(error):
        _keras_flow(root)
    assert _keras_flow(root, classes=["a"]).samples == 0


def test_classes_naming_a_missing_folder(tmp_path):
    """Legacy: a class with 0 files that keeps its index (as Keras). Modern: Keras's
    ValueError (``class_names`` must be a subset of the sub-folders)."""
    root = _tree(tmp_path)
    ds = _legacy(root, classes=["b", "nope", "a"], class_mode="categorical")
    assert ds.class_indices == {"b": 0, "nope": 1, "a": 2}
    assert ds.classes.tolist() == [0, 0, 0, 2, 2, 2]
    assert ds[0][1].tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="did not match the names of the subdirectories"):
        kt.image_dataset_from_directory(root, class_names=["a", "nope"], verbose=False)
    keras_it = _keras_flow(root, classes=["b", "nope", "a"])
    assert keras_it.class_indices == ds.class_indices
    assert list(keras_it.filenames) == list(ds.filenames)
    with pytest.raises(ValueError, match="did not match the names of the subdirectories"):
        _keras_modern_index(root, class_names=["a", "nope"])


def test_hidden_folder_is_a_class_in_legacy_and_skipped_in_modern(tmp_path):
    root = _tree(tmp_path)
    os.makedirs(os.path.join(root, ".ipynb_checkpoints"))
    Image.new("RGB", SIZE, (42, 0, 0)).save(os.path.join(root, ".ipynb_checkpoints", "x.png"))
    with pytest.warns(UserWarning, match=r"Hidden folder '\.ipynb_checkpoints'"):
        ds = _legacy(root)
    assert ds.class_indices == {".ipynb_checkpoints": 0, "a": 1, "b": 2}
    assert ds[0][0][0, 0, 0] == 42 and ds[0][1] == 0
    modern = kt.image_dataset_from_directory(root, image_size=SIZE, shuffle=False,
                                             verbose=False)
    assert modern.class_names == ["a", "b"] and len(modern.file_paths) == 6
    assert list(_keras_flow(root).filenames) == list(ds.filenames)
    paths, _, classes = _keras_modern_index(root)
    assert paths == list(modern.file_paths) and classes == modern.class_names


# -- target behaviour (implemented in parallel in the loader; fails until it lands) -------------
def _fifo_tree(tmp_path) -> tuple[str, str]:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no os.mkfifo on this platform")
    root = _tree(tmp_path)
    path = _replace_bad(root, ".jpg")
    os.mkfifo(path)
    return root, path


def _accepting_formats(path: str) -> list[str]:
    """PIL formats whose ``accept()`` recognises the file's first bytes."""
    Image.init()
    with open(path, "rb") as fh:
        head = fh.read(32)
    return [fmt for fmt, (_factory, accept) in Image.OPEN.items() if accept and accept(head)]


_EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n"
        b"newpath 0 0 moveto 8 8 lineto stroke\nshowpage\n%%EOF\n")


def _format_bytes(fmt: str) -> bytes:
    if fmt == "EPS":
        return _EPS
    if fmt == "WEBP" and not features.check("webp"):
        pytest.skip("PIL without WebP")
    extra = {"save_all": True, "append_images": [_noisy(8, 8, 1)]} if fmt == "MPO" else {}
    try:
        return _encoded(_noisy(8, 8), fmt, **extra)
    except (KeyError, ValueError, OSError) as exc:  # e.g. IM once Pillow drops it
        pytest.skip(f"this PIL cannot write {fmt}: {exc}")


# (format, name expected in the message: None where PIL has no magic for it)
LEGACY_UNLISTED = [("EPS", "EPS"), ("WEBP", "WEBP"), ("ICO", "ICO"), ("PCX", "PCX"),
                   ("SGI", "SGI"), ("GIF", "GIF"), ("TGA", None), ("IM", None)]
MODERN_UNLISTED = [("EPS", "EPS"), ("WEBP", "WEBP"), ("ICO", "ICO"), ("PCX", "PCX"),
                   ("SGI", "SGI"), ("TIFF", "TIFF"), ("PPM", "PPM"), ("TGA", None), ("IM", None)]


class TestGuards:
    """Guards kdir_torch adds on top of Keras (docs/robustness.md, "Guards").

    1. Non-regular files (a FIFO named ``x.jpg``) are never opened: ``ImageDecodeError`` at
       once (no hang), skipped under ``on_error="skip"``.
    2. Format confusion: legacy decodes only PNG, JPEG (incl. MPO), BMP, PPM, TIFF content;
       modern only PNG, JPEG, GIF, BMP. Other content behind a listed extension is an
       ``ImageDecodeError`` naming the detected PIL format where ``accept()`` identifies it.
    3. ``classes=[".."]``, ``["."]`` and names with a path separator: ``ValueError``.
    4. Images directly in the root and no class folders: 0 samples with a ``UserWarning`` naming
       the directory; ``flow_from_directory`` then yields Keras's empty batches.
    """

    @pytest.mark.parametrize("api", ["legacy", "modern"])
    def test_fifo_named_jpg_raises_without_opening(self, tmp_path, api):
        root, path = _fifo_tree(tmp_path)
        ds = _legacy(root)
        assert ds.filepaths[BAD] == path  # listed, as Keras's os.walk lists it
        ds = ds if api == "legacy" else _modern_from(ds)
        with pytest.raises(kt.ImageDecodeError) as info:
            _bounded(lambda: ds[BAD], fifo=path)
        _check_error(info.value, path, BAD)
        with pytest.raises(kt.ImageDecodeError) as info:
            _bounded(lambda: list(_loader(ds)), fifo=path)
        _check_error(info.value, path, BAD)

    @pytest.mark.parametrize("api", ["legacy", "modern"])
    def test_fifo_named_jpg_is_skipped(self, tmp_path, api):
        root, path = _fifo_tree(tmp_path)
        legacy = _legacy(root, on_error="skip")
        ds = legacy if api == "legacy" else _modern_from(legacy, on_error="skip")
        loader = _loader(ds)
        with pytest.warns(UserWarning, match=r"Skipped 1 image"):
            batches = _bounded(lambda: list(loader), fifo=path)
        _check_skipped_batches(batches, legacy, loader, path)

    @pytest.mark.filterwarnings("ignore:IM image format is deprecated:DeprecationWarning")
    @pytest.mark.parametrize("fmt, shown", LEGACY_UNLISTED, ids=[f for f, _ in LEGACY_UNLISTED])
    def test_legacy_rejects_content_of_unlisted_formats(self, tmp_path, fmt, shown):
        root = _tree(tmp_path)
        path = _write(_replace_bad(root, ".png"), _format_bytes(fmt))
        if shown is not None:
            assert shown in _accepting_formats(path)
        ds = _legacy(root)
        with pytest.raises(kt.ImageDecodeError) as info:
            ds[BAD]
        _check_error(info.value, path, BAD)
        if shown is not None:
            assert shown in str(info.value)

    @pytest.mark.parametrize("fmt", ["PNG", "JPEG", "MPO", "BMP", "PPM", "TIFF"])
    def test_legacy_decodes_listed_formats_behind_png(self, tmp_path, fmt):
        """The other side of 2: every format of the legacy list still decodes (not a fix)."""
        root = _tree(tmp_path)
        _write(_replace_bad(root, ".png"), _format_bytes(fmt))
        assert tuple(_legacy(root)[BAD][0].shape) == (3, 8, 8)

    @pytest.mark.filterwarnings("ignore:IM image format is deprecated:DeprecationWarning")
    @pytest.mark.parametrize("fmt, shown", MODERN_UNLISTED, ids=[f for f, _ in MODERN_UNLISTED])
    def test_modern_rejects_content_of_unlisted_formats(self, tmp_path, fmt, shown):
        root = _tree(tmp_path)
        path = _write(_replace_bad(root, ".png"), _format_bytes(fmt))
        element = _modern_from(_legacy(root))
        with pytest.raises(kt.ImageDecodeError) as info:
            element[BAD]
        _check_error(info.value, path, BAD)
        if shown is not None:
            assert shown in str(info.value)

    @pytest.mark.parametrize("classes", [[".."], ["."], ["a", ".."], ["a/b"],
                                         ["a" + os.sep + "b"], ["a/"], ["../root"]],
                             ids=["dotdot", "dot", "a+dotdot", "slash", "sep", "trailing",
                                  "up-and-back"])
    def test_class_names_that_leave_the_root_raise(self, tmp_path, classes):
        # one level below tmp_path, so a ".." that is not rejected lists only tmp_path/outer
        root = _tree(tmp_path / "outer")
        with pytest.raises(ValueError):
            _legacy(root, classes=classes)
        with pytest.raises(ValueError):
            kt.index_directory(root, classes=classes)
        with pytest.raises(ValueError):
            kt.ImageDataGenerator().flow_from_directory(root, classes=classes)
        with pytest.raises(ValueError):  # the modern API already refuses: not a sub-folder
            kt.image_dataset_from_directory(root, class_names=classes, verbose=False)

    def test_images_in_root_without_class_folders_warn(self, tmp_path):
        root = str(tmp_path / "r")
        os.makedirs(root)
        for k in range(2):
            Image.new("RGB", SIZE).save(os.path.join(root, f"{k}.png"))
        with pytest.warns(UserWarning) as rec:
            ds = _legacy(root)
        assert len(ds) == 0 and ds.num_classes == 0
        texts = [str(w.message) for w in rec]
        assert any(root in t and "image" in t.lower()
                   and re.search(r"sub-?(folder|director)", t.lower()) for t in texts), texts

    def test_flow_from_directory_on_images_in_root_gives_empty_batches(self, tmp_path):
        root = str(tmp_path / "r")
        os.makedirs(root)
        Image.new("RGB", SIZE).save(os.path.join(root, "0.png"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            it = kt.ImageDataGenerator().flow_from_directory(root)
        assert len(it) == 0 and list(it) == []
        x, y = _bounded(lambda: next(it))
        assert tuple(x.shape) == (0, 256, 256, 3) and tuple(y.shape) == (0, 0)
        kx, ky = next(_keras_flow(root, target_size=(256, 256)))
        assert (tuple(kx.shape), tuple(ky.shape)) == (tuple(x.shape), tuple(y.shape))
