"""The compiled resampler ``kdir_torch.augment._warp`` (keras-semantics §A11.3).

It promises scipy's ``affine_transform`` output bit for bit (per channel, every fill mode,
orders 0 and 1, float32 and float64, NCHW and channels_last, its AVX2 path and its portable
path), flips as exact mirrored stores, and pixels that do not depend on the thread count.
The torch kernels it replaces on the CPU stay tested by the scipy and Keras parity tests,
which run on both (``kernel`` fixtures there).
"""

from __future__ import annotations

import shutil
import sysconfig

import numpy as np
import pytest
import torch

from kdir_torch.augment import _native
from kdir_torch.augment import functional as F

ndi = pytest.importorskip("scipy.ndimage")

MODES = ["constant", "nearest", "reflect", "wrap"]
SHAPES = [(16, 16), (12, 21), (7, 3), (1, 5), (5, 1), (37, 53)]
built = pytest.mark.skipif(_native._warp is None, reason="the C extension is not built here")


def _compiler() -> str | None:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc)


def test_the_extensions_are_built_wherever_a_c_compiler_exists() -> None:
    """A silent build failure (``optional=True`` in setup.py) would fall back to the slower
    torch kernels and PIL; where the interpreter's compiler exists both must be there."""
    from kdir_torch.io import turbo_jpeg

    if _compiler() is None:
        pytest.skip("no C compiler: the torch kernels and PIL serve")
    assert _native._warp is not None, "kdir_torch.augment._warp failed to build; see setup.py"
    assert turbo_jpeg._pick is not None, "kdir_torch.io._pick failed to build; see setup.py"


def matrices(n: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Rotations, zooms, shears and shifts (some far outside), integer / half / quarter pixel
    shifts (tie cases), exact quarter turns and a 0.5 zoom (integer positions)."""
    out = []
    for i in range(n):
        m = np.eye(3)
        kind = i % 4
        if kind == 0:
            m[:2, 2] = rng.integers(-25, 25, 2) + rng.choice([0.0, 0.5, 0.25])
        elif kind == 1:
            th, z = rng.uniform(-np.pi, np.pi), rng.uniform(0.5, 1.5, 2)
            m[:2, :2] = [[np.cos(th) * z[0], -np.sin(th) * z[1]], [np.sin(th) * z[0], np.cos(th) * z[1]]]
            m[:2, 2] = rng.uniform(-2 * max(h, w), 2 * max(h, w), 2)
        elif kind == 2:
            m[:2, :2] = [[0.0, -1.0], [1.0, 0.0]] if rng.random() < 0.5 else [[0.5, 0.0], [0.0, 0.5]]
            m[:2, 2] = [h - 1, 0.0]
        else:
            m[0, 1] = rng.uniform(-0.4, 0.4)
            m[:2, 2] = rng.uniform(-0.3 * h, 0.3 * h, 2)
        out.append(m)
    return np.stack(out)


def scipy_reference(x: np.ndarray, m: np.ndarray, order: int, mode: str, cval: float) -> np.ndarray:
    return np.stack(
        [
            [ndi.affine_transform(x[b, c], m[b, :2, :2], m[b, :2, 2], order=order, mode=mode, cval=cval)
             for c in range(x.shape[1])]
            for b in range(x.shape[0])
        ]
    )


@pytest.fixture(params=[True, False], ids=["simd", "portable"])
def simd(request, monkeypatch) -> bool:
    if request.param and not _native._warp.has_simd():
        pytest.skip("no AVX2 here")
    monkeypatch.setattr(_native, "SIMD", request.param)
    return request.param


@built
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", MODES)
def test_equals_scipy_bit_for_bit(mode: str, order: int, dtype: torch.dtype, layout: str, simd: bool) -> None:
    rng = np.random.default_rng(order * 7 + len(mode))
    npdt = np.float64 if dtype == torch.float64 else np.float32
    for h, w in SHAPES:
        x = rng.uniform(0, 255, (8, 3, h, w)).astype(npdt)
        m = matrices(8, h, w, rng)
        t = torch.from_numpy(x)
        if layout == "channels_last":
            t = t.contiguous(memory_format=torch.channels_last)
        got = _native.warp(t, m, order, mode, -7.0)
        assert got.dtype == dtype and got.is_contiguous(
            memory_format=torch.channels_last if layout == "channels_last" else torch.contiguous_format)
        np.testing.assert_array_equal(got.numpy(), scipy_reference(x, m, order, mode, -7.0), err_msg=f"{h}x{w}")


@built
@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("mode", ["nearest", "constant", "reflect"])
def test_flips_are_exact_mirrors_of_the_result(mode: str, layout: str, simd: bool) -> None:
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.uniform(0, 255, (8, 3, 23, 30)).astype(np.float32))
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    m = matrices(8, 23, 30, rng)
    hflip = np.array([1, 0, 1, 0, 1, 1, 0, 0], bool)
    vflip = np.array([0, 1, 1, 0, 0, 1, 1, 0], bool)
    plain = _native.warp(x, m, 1, mode, 5.0)
    want = torch.where(torch.from_numpy(hflip)[:, None, None, None], plain.flip(-1), plain)
    want = torch.where(torch.from_numpy(vflip)[:, None, None, None], want.flip(-2), want)
    torch.testing.assert_close(_native.warp(x, m, 1, mode, 5.0, hflip, vflip), want, rtol=0, atol=0)


@built
def test_the_thread_count_does_not_change_a_pixel() -> None:
    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.uniform(0, 255, (5, 3, 40, 41)).astype(np.float32))
    m = matrices(5, 40, 41, rng)
    outs = []
    for threads in (1, 2, 7):
        out = torch.empty_like(x)
        _native._warp.warp(_native._flat(x), _native._flat(out), m, None, tuple(x.shape), x.stride(),
                           out.stride(), 1, 1, 0.0, False, True, threads)
        outs.append(out)
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0], rtol=0, atol=0)


@built
def test_buffers_smaller_than_their_shape_are_refused() -> None:
    x = torch.zeros(2, 3, 8, 8)
    small = torch.zeros(2 * 3 * 8 * 8 - 1)
    m = np.tile(np.eye(3), (2, 1, 1))
    with pytest.raises(ValueError, match="dst"):
        _native._warp.warp(_native._flat(x), small.numpy(), m, None, (2, 3, 8, 8), x.stride(), x.stride(),
                           1, 1, 0.0, False, True, 1)
    with pytest.raises(ValueError, match="matrices"):
        _native._warp.warp(_native._flat(x), _native._flat(x.clone()), m[:1], None, (2, 3, 8, 8), x.stride(),
                           x.stride(), 1, 1, 0.0, False, True, 1)
    with pytest.raises(ValueError, match="flips"):
        _native._warp.warp(_native._flat(x), _native._flat(x.clone()), m, b"\x01", (2, 3, 8, 8), x.stride(),
                           x.stride(), 1, 1, 0.0, False, True, 1)


@built
def test_affine_transform_takes_strided_and_half_precision_input() -> None:
    """A non-dense view is copied first; float16 is resampled in float32 and cast back."""
    rng = np.random.default_rng(9)
    base = torch.from_numpy(rng.uniform(0, 255, (4, 3, 20, 40)).astype(np.float32))
    view = base[:, :, :, ::2]
    m = torch.from_numpy(matrices(4, 20, 20, rng))
    ref = scipy_reference(view.contiguous().numpy(), m.numpy(), 1, "nearest", 0.0)
    np.testing.assert_array_equal(F.affine_transform(view, m).numpy(), ref)
    half = F.affine_transform(view.half(), m)
    assert half.dtype == torch.float16
    ref_half = scipy_reference(view.half().float().numpy(), m.numpy(), 1, "nearest", 0.0)
    np.testing.assert_array_equal(half.numpy(), ref_half.astype(np.float16))


def test_without_the_extension_the_torch_kernels_serve(monkeypatch) -> None:
    monkeypatch.setattr(_native, "ENABLED", False)
    assert not _native.usable(torch.zeros(1, 1, 2, 2))
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 255, (4, 3, 12, 21)).astype(np.float32)
    m = matrices(4, 12, 21, rng)
    got = F.affine_transform(torch.from_numpy(x), torch.from_numpy(m), 1, "nearest").numpy()
    np.testing.assert_allclose(got, scipy_reference(x, m, 1, "nearest", 0.0), atol=2e-3, rtol=0)


@built
@pytest.mark.parametrize("mode", MODES)
def test_huge_and_nan_positions_read_inside_the_image(mode: str) -> None:
    """Every tap is clamped into the image, whatever the matrix: a huge shift reads edge pixels
    (or cval), NaN gives NaN or cval, and both paths agree (scipy converts such positions
    with undefined behaviour, so it is not the reference here)."""
    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.uniform(0, 255, (4, 3, 9, 13)).astype(np.float32))
    m = np.tile(np.eye(3), (4, 1, 1))
    m[0, :2, 2] = [1e30, -1e30]
    m[1, :2, 2] = [-1e19, 3e18]
    m[2, 0, 0] = np.nan
    m[3, :2, :2] = [[1e300, 0.0], [0.0, -1e300]]
    outs = []
    for simd in (True, False):
        _native.SIMD = simd
        try:
            outs.append(_native.warp(x, m, 1, mode, 5.0))
        finally:
            _native.SIMD = True
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0, equal_nan=True)
    finite = outs[0][torch.isfinite(outs[0])]
    assert finite.numel() and bool(((finite >= 0) & (finite <= 255)).all())
