"""The libjpeg-turbo decode path (``kdir_torch.io.turbo_jpeg``) gives PIL's pixels exactly.

keras-semantics §A8: legacy pixels equal ``img_to_array(load_img(...))``. Colour JPEGs loaded
as "rgb" with the nearest filter are decoded by torchvision when it is installed; every case
here is compared with the PIL path on the same file (``turbo_jpeg.ENABLED`` off), and the
files and options the path must decline are checked to reach PIL untouched.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from kdir_torch.io import legacy, turbo_jpeg

pytest.importorskip("torchvision")
pytestmark = pytest.mark.skipif(not turbo_jpeg.prepare(),
                                reason="torchvision's decoder or the _pick extension is missing")


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 255, (h // 8 + 2, w // 8 + 2, 3))
    img = np.asarray(Image.fromarray(low.astype(np.uint8)).resize((w, h), Image.BILINEAR), np.float64)
    return np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)


def jpeg(path, h: int, w: int, seed: int = 0, **save) -> str:
    Image.fromarray(photo(h, w, seed)).save(path, "JPEG", **save)
    return str(path)


@pytest.fixture
def calls(monkeypatch) -> list[int]:
    """Counts torchvision decodes (the path was taken)."""
    seen: list[int] = []
    real = turbo_jpeg._decode_jpeg

    def counting(data):
        seen.append(1)
        return real(data)

    monkeypatch.setattr(turbo_jpeg, "_decode_jpeg", counting)
    return seen


def both(path: str, monkeypatch, **kw) -> tuple[np.ndarray, np.ndarray]:
    monkeypatch.setattr(turbo_jpeg, "ENABLED", True)
    fast = legacy.load_array(path, **kw)
    monkeypatch.setattr(turbo_jpeg, "ENABLED", False)
    slow = legacy.load_array(path, **kw)
    monkeypatch.setattr(turbo_jpeg, "ENABLED", True)
    return fast, slow


FILES = [
    ("4:2:0 q90", (375, 500), dict(quality=90)),
    ("4:4:4", (120, 161), dict(quality=95, subsampling=0)),
    ("4:2:2 odd size", (37, 53), dict(quality=75, subsampling=1)),
    ("progressive optimized", (200, 150), dict(quality=85, progressive=True, optimize=True)),
    ("low quality", (64, 64), dict(quality=10)),
    ("one pixel", (1, 1), dict()),
    ("restart markers", (96, 130), dict(restart_marker_blocks=4)),
]
SIZES = [None, (224, 224), (13, 7), (96, 130)]


@pytest.mark.parametrize("name,shape,save", FILES, ids=[f[0] for f in FILES])
@pytest.mark.parametrize("target_size", SIZES, ids=str)
@pytest.mark.parametrize("keep_aspect_ratio", [False, True])
@pytest.mark.parametrize("channels_first", [True, False])
def test_pixels_equal_pil(tmp_path, monkeypatch, calls, name, shape, save, target_size,
                          keep_aspect_ratio, channels_first) -> None:
    path = jpeg(tmp_path / "a.jpg", *shape, **save)
    fast, slow = both(path, monkeypatch, target_size=target_size, keep_aspect_ratio=keep_aspect_ratio,
                      channels_first=channels_first)
    assert calls, "the libjpeg-turbo path was not taken"
    assert fast.dtype == slow.dtype == np.uint8 and fast.shape == slow.shape
    np.testing.assert_array_equal(fast, slow)


def test_exif_orientation_and_icc_profile_are_ignored_as_by_keras(tmp_path, monkeypatch, calls) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90": Keras's load_img does not apply it
    icc = Image.new("RGB", (1, 1)).info.get("icc_profile", b"") or None
    path = jpeg(tmp_path / "r.jpg", 40, 60, exif=exif.tobytes(), **({"icc_profile": icc} if icc else {}))
    fast, slow = both(path, monkeypatch, target_size=(20, 20))
    assert calls
    np.testing.assert_array_equal(fast, slow)


def test_a_dataset_loads_the_same_samples(tmp_path, monkeypatch, calls) -> None:
    import kdir_torch as kt

    for k in range(2):
        (tmp_path / f"c{k}").mkdir()
        for i in range(3):
            jpeg(tmp_path / f"c{k}" / f"{i}.jpg", 50 + 7 * i, 80 - 5 * i, seed=k * 10 + i)
    ds = kt.KerasDirDataset(str(tmp_path), target_size=(32, 48))
    fast = [ds[i][0] for i in range(len(ds))]
    monkeypatch.setattr(turbo_jpeg, "ENABLED", False)
    slow = [ds[i][0] for i in range(len(ds))]
    assert len(calls) == len(ds)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def _cmyk(path) -> str:
    Image.fromarray(photo(30, 40)).convert("CMYK").save(path, "JPEG")
    return str(path)


def _gray(path) -> str:
    Image.fromarray(photo(30, 40)).convert("L").save(path, "JPEG")
    return str(path)


def _png_named_jpg(path) -> str:
    Image.fromarray(photo(30, 40)).save(path, "PNG")
    return str(path)


@pytest.mark.parametrize("make", [_cmyk, _gray, _png_named_jpg], ids=["cmyk", "grayscale", "png content"])
def test_other_files_go_to_pil(tmp_path, monkeypatch, calls, make) -> None:
    path = make(tmp_path / "x.jpg")
    fast, slow = both(path, monkeypatch, target_size=(16, 16))
    assert not calls
    np.testing.assert_array_equal(fast, slow)


def test_truncated_and_corrupt_jpegs_fail_or_decode_as_pil_does(tmp_path, monkeypatch) -> None:
    good = open(jpeg(tmp_path / "g.jpg", 80, 80), "rb").read()
    truncated = tmp_path / "t.jpg"
    truncated.write_bytes(good[: len(good) // 2])
    corrupt = bytearray(good)
    for k in range(len(good) // 3, len(good) // 3 + 200, 7):
        corrupt[k] ^= 0x5A
    (tmp_path / "c.jpg").write_bytes(bytes(corrupt))
    for path in (str(truncated), str(tmp_path / "c.jpg")):
        outcomes = []
        for enabled in (True, False):
            monkeypatch.setattr(turbo_jpeg, "ENABLED", enabled)
            try:
                outcomes.append(legacy.load_array(path, target_size=(20, 20)))
            except OSError as exc:
                outcomes.append(type(exc))
        if isinstance(outcomes[1], type):
            assert outcomes[0] is outcomes[1], path
        else:
            np.testing.assert_array_equal(outcomes[0], outcomes[1])


@pytest.mark.parametrize("kw", [dict(interpolation="bilinear"), dict(color_mode="grayscale"),
                                dict(color_mode="rgba"), dict(jpeg_draft=True)], ids=str)
def test_other_options_go_to_pil(tmp_path, monkeypatch, calls, kw) -> None:
    path = jpeg(tmp_path / "o.jpg", 300, 400)
    fast, slow = both(path, monkeypatch, target_size=(20, 30), **kw)
    assert not calls
    np.testing.assert_array_equal(fast, slow)


def test_file_objects_go_to_pil(tmp_path, calls) -> None:
    data = open(jpeg(tmp_path / "f.jpg", 30, 30), "rb").read()
    legacy.load_array(io.BytesIO(data), target_size=(10, 10))
    assert not calls


def test_without_torchvision_pil_decodes(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(turbo_jpeg, "_decode_jpeg", False)
    assert not turbo_jpeg.available()
    path = jpeg(tmp_path / "n.jpg", 30, 30)
    assert legacy.load_array(path, target_size=(10, 10)).shape == (10, 10, 3)


@pytest.mark.parametrize("keep_aspect_ratio", [False, True])
def test_jpeg_draft_without_a_reduction_takes_the_path(tmp_path, monkeypatch, calls, keep_aspect_ratio) -> None:
    """No DCT scale applies (the file is under twice the target): the draft decode is the full
    one, so the cheaper decoder serves it too, with the same pixels."""
    path = jpeg(tmp_path / "s.jpg", 300, 400)
    fast, slow = both(path, monkeypatch, target_size=(224, 224), jpeg_draft=True,
                      keep_aspect_ratio=keep_aspect_ratio)
    assert len(calls) == 1
    np.testing.assert_array_equal(fast, slow)


def test_pils_pixel_limit_still_warns_and_refuses(tmp_path, monkeypatch, calls) -> None:
    """docs/robustness.md: over ``MAX_IMAGE_PIXELS`` PIL warns, over twice it refuses the file
    (a decompression bomb); such JPEGs are left to PIL, which does both as before."""
    path = jpeg(tmp_path / "big.jpg", 60, 80)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 60 * 80 - 1)
    with pytest.warns(Image.DecompressionBombWarning):
        legacy.load_array(path, target_size=(10, 10))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 60 * 80 // 2 - 1)
    with pytest.raises(Image.DecompressionBombError):
        legacy.load_array(path, target_size=(10, 10))
    assert not calls
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    legacy.load_array(path, target_size=(10, 10))
    assert len(calls) == 1


@pytest.mark.parametrize("name,shape,save", FILES[:4], ids=[f[0] for f in FILES[:4]])
@pytest.mark.parametrize("kw", [dict(), dict(interpolation="nearest"), dict(crop_to_aspect_ratio=True),
                                dict(jpeg_draft=True)], ids=str)
def test_the_modern_api_decodes_the_same_pixels(tmp_path, monkeypatch, calls, name, shape, save, kw) -> None:
    """``image_dataset_from_directory``'s decode (3 channels) takes the path too, then resizes
    as ever; with ``jpeg_draft`` a file a DCT scale applies to (here: both sides >= 128 at
    64x64) stays PIL's."""
    from kdir_torch.io import modern

    path = jpeg(tmp_path / "m.jpg", *shape, **save)
    got = []
    for enabled in (True, False):
        monkeypatch.setattr(turbo_jpeg, "ENABLED", enabled)
        got.append(modern.load_image(path, 3, (64, 64), **kw))
    torch.testing.assert_close(got[0], got[1], rtol=0, atol=0)
    reduced = kw.get("jpeg_draft") and min(shape) >= 128
    assert bool(calls) != bool(reduced)


def test_the_modern_api_keeps_pil_for_other_channel_counts(tmp_path, calls) -> None:
    from kdir_torch.io import modern

    path = jpeg(tmp_path / "g.jpg", 40, 40)
    assert modern.load_image(path, 1, (16, 16)).shape == (1, 16, 16)
    with pytest.raises(ValueError):  # TF refuses 4 channels for a JPEG; so do we, as before
        modern.load_image(path, 4, (16, 16))
    assert not calls


def test_only_a_dataset_that_can_use_the_path_imports_torchvision(tmp_path) -> None:
    """Importing torchvision costs ~2 s: ``kt.load_img`` and a grayscale dataset never do it;
    an rgb / nearest dataset does, in the main process, so forked workers inherit it."""
    import subprocess
    import sys

    (tmp_path / "c").mkdir()
    path = jpeg(tmp_path / "c" / "a.jpg", 20, 20)
    code = (
        "import sys, kdir_torch as kt\n"
        f"kt.load_img({path!r}, target_size=(8, 8))\n"
        f"kt.KerasDirDataset({str(tmp_path)!r}, color_mode='grayscale', verbose=False)\n"
        "print('torchvision' in sys.modules)\n"
        f"kt.KerasDirDataset({str(tmp_path)!r}, verbose=False)\n"
        "print('torchvision' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
