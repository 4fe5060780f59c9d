"""Kernel contracts and geometry of ``kdir_torch.augment.functional`` (keras-semantics §A11).

scipy parity (§A11.3 fill modes), the documented geometry (``keras_quirks=False``), channel
shift (§A11.4), brightness (§A11.5), and the tensor contracts every kernel promises.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kdir_torch.augment import Augment, AugmentParams
from kdir_torch.augment import functional as F

MODES = ["constant", "nearest", "reflect", "wrap"]
FULL = dict(
    rotation_range=30,
    width_shift_range=0.2,
    height_shift_range=[1, 2, 3],
    shear_range=10,
    zoom_range=0.3,
    channel_shift_range=20,
    brightness_range=(0.5, 1.5),
    horizontal_flip=True,
    vertical_flip=True,
)


def rand(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return (torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 255).to(
        dtype
    )


def params(**kw: float) -> AugmentParams:
    return AugmentParams.from_keras_dicts([kw])


def marker(h: int, w: int, r: int, c: int) -> torch.Tensor:
    x = torch.zeros(1, h, w)
    x[0, r, c] = 255.0
    return x


def where_is(x: torch.Tensor) -> tuple[int, int]:
    hits = (x[0] > 127).nonzero().tolist()
    assert len(hits) == 1, hits
    return tuple(hits[0])


def random_matrices(n: int, rng: np.random.Generator) -> np.ndarray:
    """Rotations/zooms/shifts plus pure integer, half and quarter pixel shifts (tie cases)."""
    out = []
    for _ in range(n):
        m = np.eye(3)
        if rng.random() < 0.4:
            m[:2, 2] = rng.integers(-25, 25, 2) + rng.choice([0.0, 0.5, 0.25])
        else:
            th, z = rng.uniform(-np.pi, np.pi), rng.uniform(0.5, 1.5, 2)
            m[:2, :2] = [[np.cos(th) * z[0], -np.sin(th) * z[1]], [np.sin(th) * z[0], np.cos(th) * z[1]]]
            m[:2, 2] = rng.uniform(-15, 15, 2)
        out.append(m)
    return np.stack(out)


# ---- §A11.3: scipy.ndimage.affine_transform semantics --------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", MODES)
def test_affine_transform_matches_scipy(mode: str, order: int, dtype: torch.dtype, kernel: str) -> None:
    """The compiled kernel equals scipy exactly; the torch kernels to float rounding at order 1."""
    ndi = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(order)
    npdt = np.float64 if dtype == torch.float64 else np.float32
    for h, w in [(16, 16), (12, 20), (7, 3), (1, 5)]:
        x = rng.uniform(0, 255, (6, 2, h, w)).astype(npdt)
        ms = random_matrices(6, rng)
        got = F.affine_transform(torch.from_numpy(x), torch.from_numpy(ms), order, mode, cval=-7.0).numpy()
        ref = np.stack(
            [
                [
                    ndi.affine_transform(
                        x[b, c], ms[b, :2, :2], ms[b, :2, 2], order=order, mode=mode, cval=-7.0
                    )
                    for c in range(2)
                ]
                for b in range(6)
            ]
        )
        if order == 0 or kernel == "native":
            np.testing.assert_array_equal(got, ref)
        else:
            np.testing.assert_allclose(got, ref, atol=1e-8 if dtype == torch.float64 else 2e-3, rtol=0)


@pytest.mark.parametrize(
    ("mode", "shift", "expected"),
    [
        ("wrap", 3, [4, 2, 3, 1]),  # §A11.3: scipy's period n-1 wrap, not tiling ([2, 3, 4, 1])
        ("reflect", 2, [2, 1, 1, 2]),  # half-sample symmetric: ba|abcd
        ("nearest", 2, [1, 1, 1, 2]),
        ("constant", 2, [9, 9, 1, 2]),
    ],
)
def test_fill_modes_on_a_row(mode: str, shift: int, expected: list[int]) -> None:
    """Shift [1, 2, 3, 4] right by ``shift`` with order 0 (§A11.3 table)."""
    x = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    m = torch.tensor([[[1.0, 0, 0], [0, 1, -shift], [0, 0, 1]]], dtype=torch.float64)
    out = F.affine_transform(x, m, order=0, fill_mode=mode, cval=9.0)
    assert out.flatten().tolist() == expected


def test_constant_mode_is_not_grid_constant() -> None:
    """§A11.3: scipy>=1.6 'constant' gives cval outside [0, n-1] and never blends it in."""
    x = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    m = torch.tensor([[[1.0, 0, 0], [0, 1, -0.5], [0, 0, 1]]], dtype=torch.float64)
    out = F.affine_transform(x, m, order=1, fill_mode="constant", cval=-9.0)
    assert out.flatten().tolist() == [-9.0, 1.5, 2.5, 3.5]


# ---- documented geometry (keras_quirks=False) ----------------------------------------------


@pytest.mark.parametrize(
    ("kw", "moved"),
    [
        ({"tx": 3.0}, (-3, 0)),
        ({"tx": -2.0}, (2, 0)),
        ({"ty": 4.0}, (0, -4)),
        ({"tx": 1.0, "ty": -5.0}, (-1, 5)),
    ],
    ids=str,
)
@pytest.mark.parametrize("quirks", [False, True])
def test_shift_moves_marker(kw: dict, moved: tuple[int, int], quirks: bool) -> None:
    """Docs: tx (height_shift_range) moves rows, ty columns; Keras 3 swaps them (§A11.1)."""
    out = F.apply(marker(11, 17, 5, 8), params(**kw), order=0, keras_quirks=quirks)
    dr, dc = moved if not quirks else moved[::-1]
    assert where_is(out) == (5 + dr, 8 + dc)


def test_random_height_shift_moves_rows_only() -> None:
    aug = Augment(height_shift_range=[2, 4], interpolation_order=0, fill_mode="constant", seed=3)
    x = marker(15, 9, 7, 4).expand(20, 1, 15, 9)
    p = aug.make_params((15, 9), torch.arange(20))
    out = aug.apply(x, p)
    for i in range(20):
        assert where_is(out[i]) == (7 - int(p.tx[i]), 4)
    assert set(p.tx.abs().tolist()) == {2.0, 4.0}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [(12, 20), (7, 4), (5, 5)], ids=str)
def test_rotation_180_about_true_centre(mode: str, shape: tuple[int, int]) -> None:
    x = rand(2, *shape)
    expected = x.flip(-1).flip(-2)
    assert torch.equal(F.apply(x, params(theta=180.0), order=0, fill_mode=mode), expected)
    torch.testing.assert_close(
        F.apply(x, params(theta=180.0), order=1, fill_mode=mode), expected, atol=1e-3, rtol=0
    )


@pytest.mark.parametrize("quirks", [False, True])
def test_positive_theta_is_counter_clockwise(quirks: bool) -> None:
    """§A11.1: a marker at top-centre moves to left-centre for +90 degrees (square image)."""
    out = F.apply(marker(9, 9, 0, 4), params(theta=90.0), order=0, keras_quirks=quirks)
    assert where_is(out) == (4, 0)


def test_zoom_is_centred_on_non_square_image() -> None:
    """A 3x zoom-in of the centre pixel of a 9x15 image is the 3x3 block around it."""
    out = F.apply(marker(9, 15, 4, 7), params(zx=1 / 3, zy=1 / 3), order=0, fill_mode="constant")
    assert torch.all(out[0, 3:6, 6:9] == 255.0) and out.sum() == 255.0 * 9


def test_zx_acts_on_columns() -> None:
    """zx < 1 magnifies horizontally only (§A11.1): column 9 -> 7 + 3 * (9 - 7) = 13, +-1."""
    out = F.apply(marker(9, 15, 4, 9), params(zx=1 / 3), order=0, fill_mode="constant")
    assert (out[0] > 0).nonzero().tolist() == [[4, 12], [4, 13], [4, 14]]


# ---- §A11.4 / §A11.5 / flips -----------------------------------------------------------------


def test_channel_shift_spec_example() -> None:
    """§A11.4: [10,20,30]/[40,50,60] + 25 -> [35,45,55]/[60,60,60]."""
    x = torch.tensor([[[10.0, 20.0, 30.0]], [[40.0, 50.0, 60.0]]])
    out = F.channel_shift(x, torch.tensor([25.0], dtype=torch.float64))
    assert out.flatten().tolist() == [35.0, 45.0, 55.0, 60.0, 60.0, 60.0]


@pytest.mark.parametrize(
    ("value", "factor", "expected"), [(100.7, 1.0, 100.0), (100.0, 1.559, 155.0), (255.0, 0.999, 254.0)]
)
def test_brightness_spec_examples(value: float, factor: float, expected: float) -> None:
    """§A11.5: uint8 truncation, then PIL's trunc(v * b)."""
    x = torch.full((3, 2, 2), value)
    out = F.brightness(x, torch.tensor([factor], dtype=torch.float64))
    assert torch.all(out == expected)


def test_brightness_keeps_alpha_and_range() -> None:
    x = torch.stack([torch.full((2, 2), v) for v in (100.0, 50.0, 200.0, 77.0)])
    out = F.brightness(x, torch.tensor([0.5], dtype=torch.float64))
    assert out[:, 0, 0].tolist() == [50.0, 25.0, 100.0, 77.0]
    scaled = torch.linspace(-1, 1, 12).reshape(3, 2, 2)  # leaves [0, 255]: min-max scaled and mapped back
    back = F.brightness(scaled, torch.tensor([1.0], dtype=torch.float64))
    assert back.min() == -1.0 and (back - scaled).abs().max() < 2.0 / 255


def test_flip_masks() -> None:
    x = rand(3, 2, 5, 6)
    out = F.flip(x, torch.tensor([True, False, True]), torch.tensor([False, False, True]))
    assert torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1])
    assert torch.equal(out[2], x[2].flip(-1).flip(-2))


# ---- contracts ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", MODES)
def test_apply_contracts(dtype: torch.dtype, order: int, mode: str) -> None:
    aug = Augment(**FULL, interpolation_order=order, fill_mode=mode, seed=1)
    x = rand(9, 3, 10, 13, dtype=dtype)
    before = x.clone()
    p = AugmentParams.cat([aug.make_params((10, 13), torch.arange(8)), AugmentParams.identity(1)])
    out = aug.apply(x, p)
    assert torch.equal(x, before)  # input never modified
    assert out.dtype == dtype and out.device == x.device and out.shape == x.shape
    assert torch.equal(out[8], x[8])  # identity sample untouched
    loop = torch.cat([aug.apply(x[i : i + 1], p[i]) for i in range(9)])
    assert torch.equal(out, loop)  # batched == per-sample loop, bit for bit
    assert torch.equal(aug.apply(x[3], p[3]), out[3])  # rank 3 in -> rank 3 out


@pytest.mark.parametrize("batch", [1, 7, 32])
def test_forward_independent_of_batch_composition(batch: int) -> None:
    aug = Augment(**FULL, seed=11)
    x = rand(32, 3, 12, 15, seed=2)
    idx = torch.arange(100, 132)
    full = aug(x, idx, epoch=2)
    parts = torch.cat([aug(x[i : i + batch], idx[i : i + batch], epoch=2) for i in range(0, 32, batch)])
    assert torch.equal(full, parts)
    assert not torch.equal(aug(x, idx, epoch=3), full)


def test_empty_batch_and_identity() -> None:
    aug = Augment(**FULL, seed=0)
    empty = torch.zeros(0, 3, 8, 8)
    assert aug(empty).shape == (0, 3, 8, 8)
    x = rand(2, 3, 8, 8)
    out = Augment()(x)
    assert torch.equal(out, x) and out is not x
    out = F.apply(x, AugmentParams.identity(2))
    assert torch.equal(out, x) and out.data_ptr() != x.data_ptr()


def test_half_precision_is_preserved() -> None:
    x = rand(2, 3, 8, 8, dtype=torch.float16)
    out = Augment(rotation_range=20, seed=0)(x)
    assert out.dtype == torch.float16


@pytest.mark.parametrize(
    ("call", "exc"),
    [
        (lambda: F.apply(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), AugmentParams.identity(1)), TypeError),
        (lambda: F.apply(torch.zeros(3, 4), AugmentParams.identity(1)), ValueError),
        (lambda: F.apply(torch.zeros(2, 3, 4, 4), AugmentParams.identity(1)), ValueError),
        (lambda: F.apply(torch.zeros(1, 3, 4, 4), {"theta": 1.0}), TypeError),
        (lambda: F.affine_transform(torch.zeros(1, 1, 4, 4), torch.eye(3)[None] * 2, order=2), ValueError),
        (
            lambda: F.affine_transform(torch.zeros(1, 1, 4, 4), torch.eye(3)[None] * 2, fill_mode="mirror"),
            ValueError,
        ),
        (lambda: F.affine_transform(torch.zeros(2, 1, 4, 4), torch.eye(3)[None]), ValueError),
        (lambda: Augment()(torch.zeros(2, 1, 4, 4), indices=[1, 2, 3]), ValueError),
    ],
)
def test_bad_input(call, exc: type) -> None:
    with pytest.raises(exc):
        call()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("order", [0, 1])
def test_cpu_and_cuda_agree(mode: str, order: int) -> None:
    aug = Augment(**FULL, fill_mode=mode, interpolation_order=order, seed=4)
    x = rand(16, 3, 20, 24)
    p = aug.make_params((20, 24), torch.arange(16))
    cpu = aug.apply(x, p)
    gpu = aug.apply(x.cuda(), p.to("cuda"))
    assert gpu.device.type == "cuda"
    close = ((gpu.cpu() - cpu).abs() <= 1e-2).float().mean()
    assert close >= 0.999, float(close)


def test_bench_smoke() -> None:
    from kdir_torch.bench.augment import augment_throughput

    out = augment_throughput(n_images=4, size=16, batch_size=2)
    assert out["ours_images_per_s"] > 0 and out["n_images"] == 4
    assert (out["ratio"] is None) == (out["keras_images_per_s"] is None)
    assert math.isfinite(out["ours_images_per_s"])
