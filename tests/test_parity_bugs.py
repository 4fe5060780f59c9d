"""Regression tests for Keras-parity bugs found by Keras's own test suites, each differential
against real Keras (KERAS_BACKEND=torch) where Keras has the behaviour.

1. ``flow_from_directory`` on an empty directory (keras-semantics §A6, §A9): Keras's empty batch.
2. ``interpolation="unsupported"`` (§A2, §A8.3): checked only when a file needs resizing.
3. float64 batches of 32-bit "I" grayscale files (§A7, §A8.4): through float32 as Keras.
4. Integer positions under bilinear interpolation (§A11.3): scipy's exact pixels.
5. ``batch_size=0`` (§A6): accepted for an empty directory only.
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
import torch
from imagetree import write_image
from PIL import Image

import kdir_torch as kt
from kdir_torch.augment import Augment, AugmentParams, _sampling

os.environ.setdefault("KERAS_BACKEND", "torch")
kimage = pytest.importorskip("keras.src.legacy.preprocessing.image")

pytestmark = pytest.mark.keras

CLASS_MODES = ["categorical", "binary", "sparse", "input", None]


def keras_flow(root, gen_kw=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kimage.ImageDataGenerator(**(gen_kw or {})).flow_from_directory(
            str(root), shuffle=False, **kw)


def ours_flow(root, gen_kw=None, **kw):
    return kt.ImageDataGenerator(**(gen_kw or {})).flow_from_directory(
        str(root), shuffle=False, **kw)


def as_tuple(batch):
    return batch if isinstance(batch, tuple) else (batch,)


def assert_same_batch(ours, theirs):
    """Same structure, shapes, dtypes and values (torch vs numpy)."""
    ours, theirs = as_tuple(ours), as_tuple(theirs)
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert tuple(o.shape) == t.shape
        assert str(o.dtype).replace("torch.", "") == str(t.dtype)
        np.testing.assert_array_equal(o.numpy(), t)


# -- 1. empty directory -------------------------------------------------------------------------
@pytest.mark.parametrize("class_mode", CLASS_MODES)
@pytest.mark.parametrize("layout", ["no class folder", "one empty class"])
def test_empty_directory_batch_matches_keras(tmp_path, class_mode, layout):
    """§A6/§A9: Keras's next(it) on an empty tree is x (0, 256, 256, 3) and y (0, K) / (0,) / x."""
    if layout == "one empty class":
        os.makedirs(tmp_path / "a")
    theirs = next(keras_flow(tmp_path, class_mode=class_mode))
    it = ours_flow(tmp_path, class_mode=class_mode)
    assert_same_batch(next(it), theirs)
    assert len(it) == 0 and list(it) == []


def test_empty_dataset_through_make_loader(tmp_path):
    """The dataset path gives the same empty batch (labels.py's empty one-hot), channels_first."""
    ds = kt.KerasDirDataset(tmp_path, verbose=False)
    loader = kt.make_loader(ds, num_workers=0)
    assert len(loader) == 0 and list(loader) == []
    x, y = loader.empty_batch()
    assert x.shape == (0, 3, 256, 256) and y.shape == (0, 0) and y.dtype == torch.float32


# -- 2. interpolation checked lazily ------------------------------------------------------------
@pytest.fixture
def one_image_tree(tmp_path):
    root = tmp_path / "root"
    write_image(str(root / "a" / "x.png"), h=6, w=5)
    return root


def test_unsupported_interpolation_without_resize_loads_like_keras(one_image_tree):
    """§A2/§A8.3: the name is not checked when the file is already target_size."""
    kw = {"target_size": (6, 5), "interpolation": "unsupported", "batch_size": 4}
    theirs = next(keras_flow(one_image_tree, **kw))
    assert_same_batch(next(ours_flow(one_image_tree, **kw)), theirs)
    ds = kt.KerasDirDataset(one_image_tree, target_size=(6, 5), interpolation="unsupported",
                            data_format="channels_last", verbose=False)
    np.testing.assert_array_equal(ds[0][0].numpy(), theirs[0][0])


def test_unsupported_interpolation_with_resize_raises_keras_error(one_image_tree):
    """§A8.3/§A16: Keras's ValueError text when the resize happens, then the sample and file;
    a configuration error, so on_error="skip" does not skip it."""
    kw = {"target_size": (3, 5), "interpolation": "unsupported", "batch_size": 4}
    with pytest.raises(ValueError) as keras_err:
        next(keras_flow(one_image_tree, **kw))
    path = os.path.join(str(one_image_tree), "a", "x.png")
    ds = kt.KerasDirDataset(one_image_tree, target_size=(3, 5), interpolation="unsupported",
                            on_error="skip", verbose=False)  # construction does not raise
    with pytest.raises(ValueError) as ours:
        ds[0]
    assert isinstance(ours.value, kt.io.InterpolationError)
    assert str(ours.value).startswith(str(keras_err.value))
    assert repr(path) in str(ours.value) and "sample 0" in str(ours.value)
    with pytest.raises(ValueError, match=re.escape(str(keras_err.value))):
        next(iter(kt.make_loader(ds, num_workers=0)))
    with pytest.raises(ValueError, match=re.escape(str(keras_err.value))):
        next(ours_flow(one_image_tree, **kw))


# -- 3. 32-bit grayscale in float64 -------------------------------------------------------------
def test_int32_grayscale_float64_goes_through_float32_like_keras(tmp_path):
    """§A7/§A8.4: img_to_array gives float32 (floatx), then the float64 batch: 616928413 ->
    616928384, as Keras; without the detour it would stay exact."""
    values = np.array([[616928413, -5], [16777217, 7]], dtype=np.int32)
    os.makedirs(tmp_path / "a")
    Image.fromarray(values, mode="I").save(tmp_path / "a" / "big.tif")
    kw = {"color_mode": "grayscale", "target_size": (2, 2), "class_mode": "sparse", "batch_size": 1}
    theirs = next(keras_flow(tmp_path, gen_kw={"dtype": "float64"}, **kw))
    ours = next(ours_flow(tmp_path, gen_kw={"dtype": "float64"}, **kw))
    assert_same_batch(ours, theirs)
    assert ours[0][0, 0, 0, 0].item() == 616928384.0
    ds = kt.KerasDirDataset(tmp_path, target_size=None, color_mode="grayscale",
                            dtype=torch.float64, verbose=False)
    x, _ = ds[0]
    assert x.dtype == torch.float64
    np.testing.assert_array_equal(x[0].numpy(), values.astype(np.float32).astype(np.float64))
    loader = kt.make_loader(ds, batch_size=1, num_workers=0, shuffle=False)
    assert torch.equal(next(iter(loader))[0][0], x)


# -- 4. exact pixels at integer positions (bilinear) --------------------------------------------
def smooth(c, h, w, dtype, seed=0):
    g = np.random.default_rng(seed)
    return (g.random((c, h, w)) * 255).astype(dtype)


def keras_apply(mode, x, params):
    gen = kimage.ImageDataGenerator(fill_mode=mode, cval=-3.0, interpolation_order=1,
                                    data_format="channels_first")
    return gen.apply_transform(x.copy(), dict(params))


def ours_apply(mode, x, params):
    aug = Augment(fill_mode=mode, cval=-3.0, interpolation_order=1, keras_quirks=True)
    return aug.apply(torch.from_numpy(x.copy()), AugmentParams.from_keras_dicts([params])).numpy()


MODES = ["constant", "nearest", "reflect", "wrap"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("params", [{"tx": 3.0}, {"ty": -4.0}, {"tx": -7.0, "ty": 5.0},
                                    {"tx": 2.0, "flip_horizontal": 1}, {"ty": 20.0}], ids=str)
def test_integer_shifts_bilinear_are_exact_like_keras(dtype, mode, params):
    """§A11.3: integer shifts at order 1 reproduce Keras (scipy) bit for bit (was 1.67e-16)."""
    x = smooth(3, 12, 20, dtype)
    np.testing.assert_array_equal(ours_apply(mode, x, params), keras_apply(mode, x, params))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("params", [{"zx": 0.5, "zy": 0.5}, {"zx": 2.0, "zy": 0.5},
                                    {"theta": 37.0, "zx": 0.5}], ids=str)
def test_integer_positions_inside_a_resample_are_exact(dtype, mode, params):
    """§A11.3: wherever scipy's float64 coordinate is an integer on both axes (a zoom of 0.5
    about the pixel (7, 7) of a 15x15 image: every other row/column; a rotation: the centre),
    the pixel equals Keras's exactly; the others stay within the usual tolerance."""
    x = smooth(2, 15, 15, dtype, seed=1)
    theirs, ours = keras_apply(mode, x, params), ours_apply(mode, x, params)
    m = kt.augment.functional.affine_matrices(AugmentParams.from_keras_dicts([params]), 15, 15,
                                              keras_quirks=True)
    rows, cols = _sampling.source_coords(m, 15, 15)
    rows, cols = _sampling.map_axis(rows, 15, mode)[0], _sampling.map_axis(cols, 15, mode)[0]
    integral = ((rows == rows.floor()) & (cols == cols.floor()))[0].numpy()
    # the test has exact positions to check (after a rotation only the centre, by coincidence
    # of the float64 arithmetic, which the candidate search must still find)
    assert integral.sum() >= (1 if "theta" in params else 15)
    np.testing.assert_array_equal(ours[:, integral], theirs[:, integral])
    np.testing.assert_allclose(ours, theirs, atol=1e-3 if dtype == np.float32 else 1e-9)


def test_integer_shift_exact_in_documented_geometry_batched():
    """Default geometry, a batch mixing integer and fractional shifts: the integer samples are
    exact slices of the input (tx moves rows up, ty columns left)."""
    x = torch.from_numpy(smooth(3, 16, 16, np.float64, seed=2)).expand(3, -1, -1, -1).clone()
    params = AugmentParams.from_keras_dicts([{"tx": 2.0}, {"ty": 3.0}, {"tx": 0.5}])
    out = Augment(interpolation_order=1).apply(x, params)
    assert torch.equal(out[0, :, :14], x[0, :, 2:])
    assert torch.equal(out[1, :, :, :13], x[1, :, :, 3:])
    assert not torch.equal(out[2, :, :15], x[2, :, 1:])  # fractional: interpolated


# -- 5. batch_size=0 ----------------------------------------------------------------------------
def test_batch_size_zero_empty_directory_like_keras(tmp_path):
    """§A6: Keras's own test: next(it) with batch_size=0 on an empty tree is the empty batch.
    (Keras's len(it) divides by zero; ours is 0.)"""
    theirs = next(keras_flow(tmp_path, batch_size=0))
    it = ours_flow(tmp_path, batch_size=0)
    assert_same_batch(next(it), theirs)
    assert len(it) == 0 and list(it) == []
    with pytest.raises(ValueError, match="Asked to retrieve element 0"):
        it[0]
    loader = kt.make_loader(kt.KerasDirDataset(tmp_path, verbose=False), batch_size=0,
                            num_workers=0)
    assert len(loader) == 0 and list(loader) == []


def test_batch_size_zero_with_samples_is_refused(one_image_tree):
    """Keras yields empty batches forever there; we refuse with a ValueError (and type-check)."""
    message = ("`batch_size` must be >= 1 (0 is accepted only for an empty dataset). "
               "Received: batch_size=0 for 1 samples")
    with pytest.raises(ValueError, match=re.escape(message)):
        ours_flow(one_image_tree, batch_size=0, target_size=(6, 5))
    with pytest.raises(ValueError, match=re.escape(message)):
        kt.make_loader(kt.KerasDirDataset(one_image_tree, verbose=False), batch_size=0)
    for bad, exc in ((-1, ValueError), (False, TypeError), (1.5, TypeError)):
        with pytest.raises(exc, match="batch_size"):
            ours_flow(one_image_tree, batch_size=bad)


@pytest.mark.parametrize("mode", MODES)
def test_integer_position_search_finds_every_integer_position(mode):
    """The candidate search (sorted fractional parts) misses no pixel whose float64 source
    coordinate (scipy's order) is an integer on both axes (nearest: on one axis, the other
    clamped to an edge), over random integral, rational and rotated matrices and sizes."""
    from kdir_torch.augment import _bilinear

    rng = np.random.default_rng(7)
    found = 0
    for _ in range(60):
        b, h, w = (int(v) for v in rng.integers(1, [5, 20, 20], endpoint=True))
        m = np.tile(np.eye(3), (b, 1, 1))
        for i in range(b):
            t, z = rng.uniform(-3, 3), rng.choice([1.0, 0.5, rng.uniform(0.5, 2)])
            m[i, :2, :2] = rng.choice([rng.integers(-2, 3, (2, 2)),
                                       rng.choice([0.5, -0.25, 1.0, 0.0], (2, 2)),
                                       [[np.cos(t) * z, -np.sin(t)], [np.sin(t), np.cos(t) * z]]])
            m[i, :2, 2] = rng.choice([rng.integers(-5, 6), rng.uniform(-5, 5), (h - 1) / 2,
                                      0.5 * rng.integers(-9, 9)], 2)
        skip = _bilinear.integral_matrices(m)
        got = set(zip(*(t.tolist() for t in _bilinear.exact_pixels(m, h, w, mode, skip)[:3])))
        rows, cols = _sampling.source_coords(torch.from_numpy(m), h, w)
        raw = [(rows == rows.floor()) | (h <= 1), (cols == cols.floor()) | (w <= 1)]
        mrows, mcols = _sampling.map_axis(rows, h, mode)[0], _sampling.map_axis(cols, w, mode)[0]
        want = (mrows == mrows.floor()) & (mcols == mcols.floor())
        want &= ~torch.from_numpy(skip)[:, None, None]
        want &= (raw[0] | raw[1]) if mode == "nearest" else (raw[0] & raw[1])
        if mode == "constant":
            want &= (rows >= 0) & (rows <= h - 1) & (cols >= 0) & (cols <= w - 1)
        truth = set(map(tuple, want.nonzero().tolist()))
        assert truth <= got, sorted(truth - got)[:5]
        found += len(truth)
    assert found > 100  # the matrices do produce integer positions
