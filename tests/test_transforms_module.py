"""Keras's module-level transforms (``kdir_torch.keras.transforms``) against real Keras.

keras-semantics §A11 (affine matrix and quirks §A11.1, fill modes §A11.3, channel shift §A11.4,
brightness §A11.5) and §A16 (messages). The deterministic functions are compared with
``keras.src.legacy.preprocessing.image`` on random images: float64 images to 1e-6, float32
within 1 level on >= 99% of values (mean < 0.25, as the other Keras diff tests), integer
images after scipy's rounding, exact where the maths is exact. The ``random_*`` functions draw
from our RNG: their output must be the deterministic function's for the documented draws.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
from keras.src.legacy.preprocessing import image as K  # noqa: E402

import kdir_torch as kt  # noqa: E402
from kdir_torch import _rng  # noqa: E402
from kdir_torch.keras import transforms as T  # noqa: E402

pytestmark = pytest.mark.keras

MODES = ["constant", "nearest", "reflect", "wrap"]
# (row_axis, col_axis, channel_axis): Keras's default, channels_last, and both transposed ones.
AXES = [(1, 2, 0), (0, 1, 2), (2, 1, 0), (1, 0, 2)]
PARAMS = [
    {"theta": 30.0},
    {"theta": 90},
    {"theta": 180.0},
    {"tx": 3.0},
    {"ty": -2},
    {"tx": 2.5, "ty": 1.25},
    {"shear": 20.0},
    {"zx": 0.7},
    {"zy": 1.3},
    {"theta": 15.0, "tx": 2.0, "ty": -3.0, "shear": 10.0, "zx": 0.9, "zy": 1.1},
]


def image(shape: tuple[int, ...], seed: int = 0, dtype: type = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(dtype)


def shaped(h: int, w: int, axes: tuple[int, int, int], c: int = 3) -> tuple[int, int, int]:
    shape = [0, 0, 0]
    for axis, n in zip(axes, (h, w, c)):
        shape[axis] = n
    return tuple(shape)


def axis_kw(axes: tuple[int, int, int]) -> dict:
    return dict(zip(("row_axis", "col_axis", "channel_axis"), axes))


def close_levels(got: np.ndarray, ref: np.ndarray) -> None:
    diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    assert (diff <= 1.0).mean() >= 0.99, float((diff > 1).mean())
    assert diff.mean() < 0.25, float(diff.mean())


# -- apply_affine_transform --------------------------------------------------------------------


@pytest.mark.parametrize("hw", [(16, 16), (12, 20)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("axes", AXES, ids=str)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", [0, 1])
def test_apply_affine_transform_matches_keras(order: int, mode: str, axes: tuple, hw: tuple) -> None:
    """§A11.1/§A11.3: Keras's pixels, quirks included, for every axis variant and fill mode."""
    x = image(shaped(*hw, axes), seed=hw[1] + order)
    kw = dict(axis_kw(axes), fill_mode=mode, cval=17.0, order=order)
    for params in PARAMS:
        ref = K.apply_affine_transform(x, **params, **kw)
        got = T.apply_affine_transform(x, **params, **kw)
        assert isinstance(got, np.ndarray) and got.dtype == ref.dtype and got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6, err_msg=str(params))
        got32 = T.apply_affine_transform(x.astype(np.float32), **params, **kw)
        assert got32.dtype == np.float32
        close_levels(got32, K.apply_affine_transform(x.astype(np.float32), **params, **kw))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.uint16])
@pytest.mark.parametrize("order", [0, 1])
def test_integer_images_round_like_scipy(dtype: type, order: int) -> None:
    """scipy's integer output (round half away from zero, clip, cval cast too) is kept.

    Values differ only at exact .5 ties (half-pixel shifts of integer images), which the
    float64 resampling decides by its last bit, not always as scipy's own arithmetic does.
    """
    x = image((3, 12, 20), seed=5)
    x = (x - 128).astype(dtype) if dtype == np.int16 else x.astype(dtype)
    for params in PARAMS:
        for cval in (-3.5, 2.5, 300.0):
            kw = dict(fill_mode="constant", cval=cval, order=order)
            ref = K.apply_affine_transform(x, **params, **kw)
            got = T.apply_affine_transform(x, **params, **kw)
            assert got.dtype == ref.dtype == dtype
            close_levels(got, ref)
            exact = K.apply_affine_transform(x.astype(np.float64), **params, **kw)
            ties = np.abs(np.abs(exact - np.trunc(exact)) - 0.5) < 1e-6
            off = got != ref
            assert not (off & ~ties).any(), exact[off & ~ties][:5]
            assert np.abs(got.astype(np.int64) - ref)[off].max(initial=0) <= 1


def test_quirk_is_reproduced_on_non_square_images() -> None:
    """§A11.1: Keras turns a 3x7 image about the wrong centre; we return Keras's pixels."""
    x = image((1, 3, 7), seed=4)
    ref = K.apply_affine_transform(x, theta=180, fill_mode="constant")
    got = T.apply_affine_transform(x, theta=180, fill_mode="constant")
    np.testing.assert_allclose(got, ref, atol=1e-9)
    assert not np.allclose(got, x[:, ::-1, ::-1])  # not the true 180-degree turn
    # tx moves content left (towards column 0) with Keras's default axes
    ramp = np.tile(np.arange(8.0), (1, 8, 1))
    np.testing.assert_array_equal(T.apply_affine_transform(ramp, tx=2, order=0)[0, 0, :6], ramp[0, 0, 2:])


def test_identity_returns_an_equal_copy() -> None:
    for x in (image((3, 5, 6)), image((5, 6, 3), dtype=np.uint8)):
        out = T.apply_affine_transform(x, row_axis=0, col_axis=1, channel_axis=2)
        assert out.dtype == x.dtype and out is not x and not np.shares_memory(out, x)
        np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize(
    "args",
    [
        dict(x=np.zeros((3, 4, 5)), row_axis=1, col_axis=1),
        dict(x=np.zeros((3, 4, 5)), row_axis=0, col_axis=1, channel_axis=3),
        dict(x=np.zeros((3, 4)), theta=3),
        dict(x=np.zeros((3, 4, 5)), row_axis=0, col_axis=2, channel_axis=1),
    ],
    ids=["distinct", "indices", "rank", "channel axis"],
)
def test_affine_errors_are_keras_texts(args: dict) -> None:
    with pytest.raises(ValueError) as ref:
        K.apply_affine_transform(**args)
    with pytest.raises(ValueError) as got:
        T.apply_affine_transform(**args)
    assert str(got.value) == str(ref.value)


def test_unsupported_order_and_fill_mode() -> None:
    x = image((3, 4, 5))
    with pytest.raises(ValueError, match="only orders 0 and 1 are supported. Received: order=3"):
        T.apply_affine_transform(x, theta=5, order=3)
    with pytest.raises(ValueError, match="`fill_mode` must be one of"):
        T.apply_affine_transform(x, theta=5, fill_mode="mirror")
    with pytest.raises(ValueError, match="interpolation_order=2"):
        T.random_rotation(x, 10, interpolation_order=2, seed=0)


# -- channel shift, brightness, flip, matrix ---------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("channel_axis", [0, 2])
def test_apply_channel_shift_matches_keras(dtype: type, channel_axis: int) -> None:
    """§A11.4: same shift for all channels, clipped to the global range; Keras's dtype."""
    x = np.random.default_rng(1).uniform(3, 250, (3, 5, 6)).astype(dtype)
    for s in (25.0, -80.0, 0.0, 1e3, np.float64(12.5)):
        ref = K.apply_channel_shift(x, s, channel_axis)
        got = T.apply_channel_shift(x, s, channel_axis)
        assert got.dtype == ref.dtype and got.shape == ref.shape
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("value_range", [(0, 255), (-50, 300), (0.2, 0.8)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [True, False])
def test_apply_brightness_shift_matches_keras(channels: int, value_range: tuple, dtype: type,
                                              scale: bool) -> None:
    """§A11.5: PIL levels, trunc(v*b), alpha kept; scale=True (Keras's default) never maps back."""
    x = np.random.default_rng(channels).uniform(*value_range, (7, 9, channels)).astype(dtype)
    for b in (0.0, 0.37, 1.0, 1.559, 2.5):
        ref = K.apply_brightness_shift(x, b, scale)
        got = T.apply_brightness_shift(x, b, scale)
        assert got.dtype == ref.dtype, (got.dtype, ref.dtype)
        np.testing.assert_array_equal(got, ref, err_msg=f"b={b}")
    chw = T.apply_brightness_shift(x.transpose(2, 0, 1), 1.2, scale, data_format="channels_first")
    np.testing.assert_array_equal(chw, K.apply_brightness_shift(x, 1.2, scale).transpose(2, 0, 1))


def test_integer_images_brightness_and_channel_shift() -> None:
    """Keras's dtypes for integer images (float32, float64 when int32 values are mapped back)."""
    rng = np.random.default_rng(6)
    for x in (rng.integers(0, 256, (5, 6, 3)).astype(np.uint8), rng.integers(-100, 1000, (5, 6, 3)).astype(np.int32)):
        for scale in (True, False):
            ref, got = K.apply_brightness_shift(x, 1.3, scale), T.apply_brightness_shift(x, 1.3, scale)
            assert got.dtype == ref.dtype
            np.testing.assert_array_equal(got, ref)
        ref, got = K.apply_channel_shift(x, 10.0), T.apply_channel_shift(x, 10.0)
        assert got.dtype == ref.dtype == np.float64
        np.testing.assert_array_equal(got, ref)
    # An int shift keeps uint8 (numpy's promotion) but, unlike Keras, does not wrap around.
    x = np.array([[[250, 10, 0]]], np.uint8)
    out = T.apply_channel_shift(x, 8)
    assert out.dtype == np.uint8 and out.tolist() == [[[250, 18, 8]]]


@pytest.mark.parametrize("bad", [np.zeros((4, 5)), np.zeros((4, 5, 2))], ids=["rank", "channels"])
def test_brightness_errors_are_keras_texts(bad: np.ndarray) -> None:
    with pytest.raises(ValueError) as ref:
        K.apply_brightness_shift(bad, 1.1)
    with pytest.raises(ValueError) as got:
        T.apply_brightness_shift(bad, 1.1)
    assert str(got.value) == str(ref.value)


def test_flip_axis_and_offset_matrix_match_keras() -> None:
    x = image((3, 4, 5), dtype=np.uint8)
    for axis in (0, 1, 2, -1):
        out = T.flip_axis(x, axis)
        np.testing.assert_array_equal(out, K.flip_axis(x, axis))
        assert out.dtype == x.dtype and not np.shares_memory(out, x)
    m = np.random.default_rng(2).normal(size=(3, 3))
    for hw in ((12, 20), (7, 7), (5, 2)):
        ref = K.transform_matrix_offset_center(m, *hw)
        np.testing.assert_array_equal(T.transform_matrix_offset_center(m, *hw), ref)
        t = T.transform_matrix_offset_center(torch.from_numpy(m), *hw)
        assert isinstance(t, torch.Tensor) and np.array_equal(t.numpy(), ref)
    with pytest.raises(ValueError, match=r"\(3, 3\)"):
        T.transform_matrix_offset_center(np.eye(2), 4, 4)


# -- random_* ----------------------------------------------------------------------------------


def drawn(seed: int, name: str, k: int, low: float, high: float) -> float:
    """The documented draw: Keras's uniform formula on our counter-based uniform u_k."""
    u = float(_rng.uniforms(seed, T.DRAW_TAGS[name], np.array([k]), 0)[0])
    return low + (high - low) * u


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_random_functions_apply_the_drawn_parameters(seed: int) -> None:
    x = image((3, 12, 20), seed=seed)
    kw = dict(fill_mode="reflect", cval=0.0)
    theta = drawn(seed, "rotation", 0, -40, 40)
    np.testing.assert_array_equal(T.random_rotation(x, 40, seed=seed, **kw),
                                  T.apply_affine_transform(x, theta=theta, **kw))
    tx, ty = drawn(seed, "shift", 0, -0.2, 0.2) * 12, drawn(seed, "shift", 1, -0.3, 0.3) * 20
    np.testing.assert_array_equal(T.random_shift(x, 0.3, 0.2, seed=seed, **kw),
                                  T.apply_affine_transform(x, tx=tx, ty=ty, **kw))
    shear = drawn(seed, "shear", 0, -25, 25)
    np.testing.assert_array_equal(T.random_shear(x, 25, seed=seed, **kw),
                                  T.apply_affine_transform(x, shear=shear, **kw))
    zx, zy = drawn(seed, "zoom", 0, 0.5, 1.5), drawn(seed, "zoom", 1, 0.5, 1.5)
    np.testing.assert_array_equal(T.random_zoom(x, (0.5, 1.5), seed=seed, **kw),
                                  T.apply_affine_transform(x, zx=zx, zy=zy, **kw))
    s = drawn(seed, "channel_shift", 0, -30, 30)
    np.testing.assert_array_equal(T.random_channel_shift(x, 30, seed=seed), T.apply_channel_shift(x, s))
    hwc = x.transpose(1, 2, 0)
    b = drawn(seed, "brightness", 0, 0.5, 1.5)
    np.testing.assert_array_equal(T.random_brightness(hwc, (0.5, 1.5), False, seed=seed),
                                  T.apply_brightness_shift(hwc, b, False))


def test_random_draws_stay_in_bounds_and_cover_them() -> None:
    """Keras's distributions: uniform on [low, high), one value per seed."""
    for name, k, low, high in [("rotation", 0, -30, 30), ("shift", 1, -0.2, 0.2),
                               ("zoom", 0, 0.8, 1.25), ("brightness", 0, 0.5, 1.5)]:
        values = np.array([drawn(s, name, k, low, high) for s in range(2000)])
        assert values.min() >= low and values.max() < high
        assert values.min() < low + 0.01 * (high - low) and values.max() > high - 0.01 * (high - low)
        assert abs(values.mean() - (low + high) / 2) < 0.03 * (high - low)
    # through the public path: channel shifts of a mid value are the draws themselves
    x = np.array([[[0.0, 500.0, 1000.0]]])
    shifts = np.array([T.random_channel_shift(x, 100, seed=s)[0, 0, 1] - 500 for s in range(500)])
    assert shifts.min() >= -100 and shifts.max() < 100 and shifts.max() - shifts.min() > 190


def test_random_functions_are_seeded_and_leave_numpy_alone() -> None:
    x = image((3, 10, 10))
    state = np.random.get_state()
    a = T.random_rotation(x, 90, seed=7)
    np.testing.assert_array_equal(a, T.random_rotation(x, 90, seed=7))
    assert not np.array_equal(a, T.random_rotation(x, 90, seed=8))
    assert not np.array_equal(T.random_rotation(x, 90), T.random_rotation(x, 90))  # fresh seeds
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]
    np.testing.assert_array_equal(T.random_zoom(x, (1, 1), seed=3), x)  # (1, 1): no draw, no move


@pytest.mark.parametrize(
    "call",
    [
        lambda K_, x: K_.random_zoom(x, (1.0, 2.0, 3.0)),
        lambda K_, x: K_.random_zoom(x, [0.5]),
        lambda K_, x: K_.random_brightness(x, (1.0,)),
        lambda K_, x: K_.random_brightness(x, [0.1, 0.2, 0.3]),
    ],
    ids=["zoom 3", "zoom 1", "brightness 1", "brightness 3"],
)
def test_range_errors_are_keras_texts(call) -> None:
    x = image((3, 4, 5))
    with pytest.raises(ValueError) as ref:
        call(K, x)
    with pytest.raises(ValueError) as got:
        call(T, x)
    assert str(got.value) == str(ref.value)


# -- torch tensors -----------------------------------------------------------------------------


def test_tensors_in_tensors_out() -> None:
    x = image((3, 12, 20), seed=9)
    t = torch.from_numpy(x.copy())
    hwc = torch.from_numpy(x.transpose(1, 2, 0).copy())
    cases = [
        (lambda a: T.apply_affine_transform(a, theta=20, zx=0.9), t, torch.float64),
        (lambda a: T.apply_affine_transform(a, tx=2, row_axis=0, col_axis=1, channel_axis=2), hwc,
         torch.float64),
        (lambda a: T.apply_channel_shift(a, 20.0), t, torch.float64),
        (lambda a: T.apply_brightness_shift(a, 1.3), hwc, torch.float32),
        (lambda a: T.flip_axis(a, 1), t, torch.float64),
        (lambda a: T.random_shear(a, 20, seed=3), t, torch.float64),
    ]
    for fn, arg, dtype in cases:
        out = fn(arg)
        assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.shape == arg.shape
        ref = fn(arg.numpy())
        assert isinstance(ref, np.ndarray)
        np.testing.assert_array_equal(out.numpy(), ref)
    f32 = T.apply_affine_transform(t.float(), theta=20)
    assert f32.dtype == torch.float32
    close_levels(f32.numpy(), K.apply_affine_transform(x.astype(np.float32), theta=20))
    assert kt.random_rotation is T.random_rotation and kt.apply_affine_transform is T.apply_affine_transform


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensors_stay_on_the_device() -> None:
    x = image((3, 12, 20), seed=10)
    t = torch.from_numpy(x).cuda()
    for mode in MODES:
        out = T.apply_affine_transform(t, theta=25, tx=1.5, fill_mode=mode)
        assert out.is_cuda
        np.testing.assert_allclose(out.cpu().numpy(), K.apply_affine_transform(x, theta=25, tx=1.5, fill_mode=mode),
                                   atol=1e-6)
    assert T.apply_channel_shift(t, 5.0).is_cuda and T.flip_axis(t, 2).is_cuda
