"""``jpeg_draft=True``: reduced-DCT JPEG decoding (kdir_torch.io.jpeg_draft, README section
"Reduced-DCT JPEG decoding").

Checked: the scale is the smallest DCT image that still covers the resized region at >= the
target size; shapes, dtypes and channels equal the full path in every colour mode; non-JPEG
files and JPEGs too small to reduce are bit-identical to ``jpeg_draft=False``; pixels stay close
to a full decode; every facade passes the flag through; ``make_loader`` workers honour it.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch
from PIL import Image

import kdir_torch as kt
from kdir_torch.datasets.modern import ModernDirDataset
from kdir_torch.io.jpeg_draft import draft_scale, request_draft
from kdir_torch.io.legacy import load_array
from kdir_torch.io.modern import draft_scale_for, load_image

BIG = (360, 480)       # (H, W) of the large test JPEGs: 1/8 still covers (40, 48)
TARGET = (40, 48)
SMALL = (60, 80)       # (H, W) of JPEGs too small to reduce for TARGET (80 // 48 == 1)


def _smooth(h: int, w: int, seed: int) -> np.ndarray:
    """A photo-like ``(h, w, 3)`` uint8 image: low-frequency waves plus mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [128 + 60 * np.sin(2 * np.pi * (rng.uniform(0.5, 3) * x + rng.uniform(0.5, 3) * y
                                            + rng.uniform()))
             for _ in range(3)]
    img = np.stack(chans, -1) + rng.normal(0, 4, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _jpeg(path, size=BIG, seed=0, mode="RGB") -> str:
    img = Image.fromarray(_smooth(*size, seed))
    img.convert(mode).save(path, "JPEG", quality=92)
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("draft")
    out = {m: _jpeg(d / f"{m}.jpg", mode=m) for m in ("RGB", "L", "CMYK")}
    out.update({(m, "small"): _jpeg(d / f"{m}_small.jpg", SMALL, mode=m)
                for m in ("RGB", "L", "CMYK")})
    out["png"] = str(d / "big.png")
    Image.fromarray(_smooth(*BIG, 1)).save(out["png"])
    return out


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("draft_tree")
    for c in ("a", "b"):
        os.makedirs(root / c)
        for k in range(3):
            _jpeg(root / c / f"{k}.jpg", seed=k + (c == "b") * 10)
        Image.fromarray(_smooth(*BIG, 20)).save(root / c / "p.png")
    return str(root)


# -- scale choice ------------------------------------------------------------------------------

def test_scale_is_smallest_that_covers():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        rw, rh, tw, th = (int(v) for v in rng.integers(1, 3000, 4))
        s = draft_scale(rw, rh, tw, th)
        assert s in (1, 2, 4, 8)
        assert s == 1 or (rw >= s * tw and rh >= s * th)           # covers the target
        if s < 8:                                                 # the next scale would not
            assert rw < 2 * s * tw or rh < 2 * s * th
    assert draft_scale(2400, 1800, 224, 224) == 8
    assert draft_scale(447, 900, 224, 224) == 1
    assert draft_scale(448, 448, 224, 224) == 2
    assert draft_scale(100, 100, 0, 10) == 1


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_pillow_grants_the_scale(files, scale):
    with Image.open(files["RGB"]) as img:
        assert request_draft(img, scale) == scale
        img.load()
        assert img.size == (-(-BIG[1] // scale), -(-BIG[0] // scale))
    with Image.open(files["png"]) as img:
        assert request_draft(img, scale) == 1 and img.size == (BIG[1], BIG[0])


def test_modern_region_choice():
    # wide image: the padded fit (224 x 56) allows 1/8, the crop window (600 x 600) only 1/2
    assert draft_scale_for(600, 2400, (224, 224), False, False) == 2
    assert draft_scale_for(600, 2400, (224, 224), True, False) == 2
    assert draft_scale_for(600, 2400, (224, 224), False, True) == 8
    assert draft_scale_for(1800, 2400, (224, 224), True, False) == 8
    assert draft_scale_for(1800, 2400, (226, 224), True, False) == 4  # crop 1784 x 1800


def test_crop_region_still_covered(files):
    # keep_aspect_ratio / crop_to_aspect_ratio: the crop at the reduced scale is >= target
    target = (45, 45)  # crop 360x360 -> 360 // 45 == 8
    a = load_array(files["RGB"], "rgb", target, "nearest", True, jpeg_draft=True)
    b = load_array(files["RGB"], "rgb", target, "nearest", True)
    assert a.shape == b.shape == (45, 45, 3)
    assert 0 < np.abs(a.astype(int) - b).mean() < 6
    m = load_image(files["RGB"], 3, target, "bilinear", crop_to_aspect_ratio=True,
                   jpeg_draft=True)
    assert m.shape == (3, 45, 45)


# -- same shapes, bit-identical where no reduction applies -------------------------------------

@pytest.mark.parametrize("src", ["RGB", "L", "CMYK"])
@pytest.mark.parametrize("color_mode", ["rgb", "rgba", "grayscale"])
def test_legacy_shape_dtype_channels(files, src, color_mode):
    for chw in (False, True):
        full = load_array(files[src], color_mode, TARGET, "bilinear", channels_first=chw)
        fast = load_array(files[src], color_mode, TARGET, "bilinear", channels_first=chw,
                          jpeg_draft=True)
        assert fast.shape == full.shape and fast.dtype == full.dtype
        assert not np.array_equal(fast, full)  # the reduced decode did run
        small = files[src, "small"]
        assert np.array_equal(
            load_array(small, color_mode, TARGET, "bilinear", channels_first=chw,
                       jpeg_draft=True),
            load_array(small, color_mode, TARGET, "bilinear", channels_first=chw))


@pytest.mark.parametrize("src,channels", [("RGB", 1), ("RGB", 3), ("L", 1), ("L", 3),
                                          ("CMYK", 3)])
@pytest.mark.parametrize("interp", ["nearest", "bilinear"])
def test_modern_shape_dtype_channels(files, src, channels, interp):
    for crop, pad in ((False, False), (True, False), (False, True)):
        full = load_image(files[src], channels, TARGET, interp, crop, pad)
        fast = load_image(files[src], channels, TARGET, interp, crop, pad, jpeg_draft=True)
        assert fast.shape == full.shape and fast.dtype == full.dtype
        assert not torch.equal(fast, full)
        small = files[src, "small"]
        assert torch.equal(load_image(small, channels, TARGET, interp, crop, pad, jpeg_draft=True),
                           load_image(small, channels, TARGET, interp, crop, pad))


def test_non_jpeg_and_no_target_bit_identical(files):
    for color_mode in ("rgb", "rgba", "grayscale"):
        assert np.array_equal(load_array(files["png"], color_mode, TARGET, "bilinear",
                                         jpeg_draft=True),
                              load_array(files["png"], color_mode, TARGET, "bilinear"))
        assert np.array_equal(load_array(files["RGB"], color_mode, None, jpeg_draft=True),
                              load_array(files["RGB"], color_mode, None))
    for channels in (1, 3, 4):
        assert torch.equal(load_image(files["png"], channels, TARGET, "nearest",
                                      jpeg_draft=True),
                           load_image(files["png"], channels, TARGET, "nearest"))


# -- close to a full decode --------------------------------------------------------------------

@pytest.mark.parametrize("interp,mean_bound", [("nearest", 6.0), ("bilinear", 2.5)])
def test_close_to_full_decode(files, interp, mean_bound):
    full = load_array(files["RGB"], "rgb", TARGET, interp).astype(np.int16)
    fast = load_array(files["RGB"], "rgb", TARGET, interp, jpeg_draft=True).astype(np.int16)
    assert np.abs(fast - full).mean() < mean_bound
    full_m = load_image(files["RGB"], 3, TARGET, interp).float()
    fast_m = load_image(files["RGB"], 3, TARGET, interp, jpeg_draft=True).float()
    assert (fast_m - full_m).abs().mean() < mean_bound
    other = load_array(files["RGB"], "rgb", TARGET, interp)[::-1].astype(np.int16)
    assert np.abs(other - full).mean() > 4 * mean_bound  # the bound means something


# -- datasets and facades ----------------------------------------------------------------------

def _first_jpeg_pixels(ds, path_attr="filepaths"):
    paths = list(getattr(ds, path_attr))
    i = next(k for k, p in enumerate(paths) if p.endswith(".jpg"))
    return i, paths[i]


def test_facades_pass_it_through(tree):
    gen = kt.ImageDataGenerator(data_format="channels_first")
    it = gen.flow_from_directory(tree, target_size=TARGET, shuffle=False, batch_size=8,
                                 jpeg_draft=True, interpolation="bilinear")
    assert it.jpeg_draft is True
    x, _ = next(it)
    for k, path in enumerate(it.filepaths):
        want = load_array(path, "rgb", TARGET, "bilinear", channels_first=True,
                          jpeg_draft=True)
        assert torch.equal(x[k], torch.from_numpy(want).float())
    names = list(it.filenames)
    df = gen.flow_from_dataframe([{"filename": n, "class": n[0]} for n in names], tree,
                                 target_size=TARGET, shuffle=False, batch_size=8,
                                 interpolation="bilinear", jpeg_draft=True)
    assert torch.equal(next(df)[0], x)
    ds = kt.image_dataset_from_directory(tree, image_size=TARGET, shuffle=False, batch_size=8,
                                         data_format="channels_first", jpeg_draft=True,
                                         verbose=False)
    xb, _ = next(iter(ds))
    for k, path in enumerate(ds.file_paths):
        assert torch.equal(xb[k], load_image(path, 3, TARGET, "bilinear", jpeg_draft=True))
    assert not torch.equal(xb, next(iter(kt.image_dataset_from_directory(
        tree, image_size=TARGET, shuffle=False, batch_size=8, data_format="channels_first",
        verbose=False)))[0])


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_invalid_value(tree, bad):
    msg = rf"`jpeg_draft` must be a bool\. Received: jpeg_draft={bad!r}"
    with pytest.raises(TypeError, match=msg):
        kt.KerasDirDataset(tree, jpeg_draft=bad, verbose=False)
    with pytest.raises(TypeError, match=msg):
        kt.ImageDataGenerator().flow_from_directory(tree, jpeg_draft=bad)
    with pytest.raises(TypeError, match=msg):
        kt.ImageDataGenerator().flow_from_dataframe([{"filename": "a/0.jpg", "class": "a"}],
                                                    tree, jpeg_draft=bad)
    with pytest.raises(TypeError, match=msg):
        kt.image_dataset_from_directory(tree, jpeg_draft=bad, verbose=False)
    with pytest.raises(TypeError, match=msg):
        ModernDirDataset(["x.jpg"], jpeg_draft=bad)


def test_concat_needs_same_flag(tree):
    a = kt.KerasDirDataset(tree, target_size=TARGET, verbose=False, jpeg_draft=True)
    b = kt.KerasDirDataset(tree, target_size=TARGET, verbose=False)
    with pytest.raises(ValueError, match="jpeg_draft"):
        kt.concat([a, b])


def test_make_loader_workers(tree):
    ds = kt.KerasDirDataset(tree, target_size=TARGET, class_mode="sparse", verbose=False,
                            interpolation="bilinear", jpeg_draft=True)
    loader = kt.make_loader(ds, batch_size=4, shuffle=False, num_workers=2, timeout=60)
    xs = torch.cat([x for x, _ in loader])
    want = torch.stack([ds[i][0] for i in range(len(ds))])
    assert torch.equal(xs, want)
    full = kt.KerasDirDataset(tree, target_size=TARGET, verbose=False, interpolation="bilinear")
    assert not torch.equal(want, torch.stack([full[i][0] for i in range(len(full))]))
