"""Parameter draws of ``Augment.make_params`` (keras-semantics §A10), validation (§A16) and
``AugmentParams`` bookkeeping. Distributions are checked on 20k samples with 6-sigma bounds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kdir_torch.augment import Augment, AugmentParams

N = 20_000
IDX = torch.arange(N)
H, W = 30, 50  # distinct so a height/width mix-up shows


def draw(**kw) -> AugmentParams:
    return Augment(**kw, seed=1234).make_params((H, W), IDX)


def assert_uniform(v: torch.Tensor, lo: float, hi: float) -> None:
    """min/max inside [lo, hi), mean and variance of U(lo, hi), flat decile histogram."""
    v = v.numpy()
    assert v.min() >= lo and v.max() < hi and v.min() < lo + (hi - lo) * 1e-3
    u = (v - lo) / (hi - lo)
    assert abs(u.mean() - 0.5) < 6 * math.sqrt(1 / 12 / N)
    assert abs(u.var() - 1 / 12) < 0.005
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(counts - N / 10) < 6 * math.sqrt(N / 10))


def assert_frequencies(v: torch.Tensor, expected: dict[float, float]) -> None:
    values, counts = np.unique(v.numpy(), return_counts=True)
    assert set(np.round(values, 9).tolist()) == set(np.round(list(expected), 9).tolist())
    for value, count in zip(values, counts, strict=True):
        p = expected[min(expected, key=lambda k: abs(k - value))]
        assert abs(count / N - p) < 6 * math.sqrt(p * (1 - p) / N), (value, count / N, p)


# ---- §A10 distributions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "field", "lo", "hi"),
    [
        ({"rotation_range": 20}, "theta", -20, 20),
        ({"shear_range": 0.1}, "shear", -0.1, 0.1),
        ({"height_shift_range": 0.2}, "tx", -0.2 * H, 0.2 * H),  # fraction of height
        ({"width_shift_range": 0.3}, "ty", -0.3 * W, 0.3 * W),  # fraction of width
        ({"height_shift_range": 5.0}, "tx", -5, 5),  # float >= 1: pixels
        ({"width_shift_range": 1.0}, "ty", -1, 1),
        ({"zoom_range": 0.2}, "zx", 0.8, 1.2),
        ({"zoom_range": 0.2}, "zy", 0.8, 1.2),
        ({"zoom_range": (0.5, 0.9)}, "zx", 0.5, 0.9),
        ({"zoom_range": [1.1, 1.3]}, "zy", 1.1, 1.3),
        ({"channel_shift_range": 30}, "channel_shift_intensity", -30, 30),
        ({"brightness_range": (0.4, 1.6)}, "brightness", 0.4, 1.6),
    ],
    ids=lambda v: str(v),
)
def test_uniform_draws(kw: dict, field: str, lo: float, hi: float) -> None:
    assert_uniform(getattr(draw(**kw), field), lo, hi)


@pytest.mark.parametrize(
    ("kw", "field", "expected"),
    [
        # int n: choice of 0..n-1, then a random sign (§A10: hs=2 -> -1/0/+1 with P(0)=1/2)
        ({"height_shift_range": 2}, "tx", {-1: 0.25, 0: 0.5, 1: 0.25}),
        ({"width_shift_range": 3}, "ty", {-2: 1 / 6, -1: 1 / 6, 0: 1 / 3, 1: 1 / 6, 2: 1 / 6}),
        # list with max < 1: fractions of the size; list with max >= 1: pixels (0.5 px included)
        (
            {"height_shift_range": [0.1, 0.2]},
            "tx",
            {-0.2 * H: 0.25, -0.1 * H: 0.25, 0.1 * H: 0.25, 0.2 * H: 0.25},
        ),
        ({"width_shift_range": (1, 0.5)}, "ty", {-1: 0.25, -0.5: 0.25, 0.5: 0.25, 1: 0.25}),
        ({"horizontal_flip": True}, "flip_horizontal", {0: 0.5, 1: 0.5}),
        ({"vertical_flip": True}, "flip_vertical", {0: 0.5, 1: 0.5}),
    ],
    ids=lambda v: str(v),
)
def test_discrete_draws(kw: dict, field: str, expected: dict) -> None:
    assert_frequencies(getattr(draw(**kw), field).double(), expected)


def test_independence() -> None:
    p = draw(zoom_range=0.3, horizontal_flip=True, vertical_flip=True, rotation_range=10, shear_range=10)
    pairs = [(p.zx, p.zy), (p.theta, p.shear), (p.flip_horizontal.double(), p.flip_vertical.double())]
    for a, b in pairs:
        assert abs(np.corrcoef(a.numpy(), b.numpy())[0, 1]) < 6 / math.sqrt(N)
    assert (p.zx != p.zy).all()


def test_disabled_draws_are_identity() -> None:
    p = draw()
    for name in ("theta", "tx", "ty", "shear"):
        assert torch.all(getattr(p, name) == 0)
    assert torch.all(p.zx == 1) and torch.all(p.zy == 1)
    assert not p.flip_horizontal.any() and not p.flip_vertical.any()
    assert p.channel_shift_intensity is None and p.brightness is None
    assert torch.all(draw(zoom_range=(1, 1)).zx == 1) and draw(width_shift_range=[]).ty.eq(0).all()


def test_streams_are_fixed_per_draw() -> None:
    """Enabling another augmentation never changes a draw (one stream per draw)."""
    base = draw(height_shift_range=0.2)
    more = draw(height_shift_range=0.2, rotation_range=30, horizontal_flip=True, brightness_range=(0.5, 1))
    assert torch.equal(base.tx, more.tx)


# ---- determinism ----------------------------------------------------------------------------


FULL = dict(
    rotation_range=30,
    width_shift_range=0.2,
    height_shift_range=[1, 2],
    shear_range=5,
    zoom_range=0.2,
    channel_shift_range=10,
    brightness_range=(0.8, 1.2),
    horizontal_flip=True,
    vertical_flip=True,
)


def assert_params_equal(a: AugmentParams, b: AugmentParams) -> None:
    for k in a.to_keras_dict(0):
        x, y = getattr(a, k), getattr(b, k)
        assert (x is None and y is None) or torch.equal(x, y), k


@pytest.mark.parametrize("batch", [1, 7, 32])
def test_params_depend_only_on_seed_epoch_index(batch: int) -> None:
    aug = Augment(**FULL, seed=99)
    idx = torch.arange(500, 564)
    full = aug.make_params((20, 20), idx, epoch=4)
    parts = AugmentParams.cat(
        [aug.make_params((20, 20), idx[i : i + batch], epoch=4) for i in range(0, 64, batch)]
    )
    assert_params_equal(full, parts)
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    assert_params_equal(aug.make_params((20, 20), idx[perm], epoch=4), full[perm])


def test_epoch_and_seed_change_the_draws() -> None:
    aug = Augment(**FULL, seed=99)
    a = aug.make_params((20, 20), IDX[:100], epoch=0)
    assert not torch.equal(a.theta, aug.make_params((20, 20), IDX[:100], epoch=1).theta)
    assert not torch.equal(a.theta, aug.make_params((20, 20), IDX[:100], seed=7).theta)
    assert torch.equal(a.theta, Augment(**FULL, seed=99).make_params((20, 20), IDX[:100]).theta)
    assert torch.equal(
        aug.make_params((20, 20), IDX[:5], seed=7).theta,
        Augment(**FULL, seed=7).make_params((20, 20), IDX[:5]).theta,
    )


# ---- validation (§A16 texts) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "exc", "match"),
    [
        (
            {"zoom_range": (1, 2, 3)},
            ValueError,
            r"^`zoom_range` should be a float or a tuple or list of two floats\. Received: \(1, 2, 3\)$",
        ),
        ({"zoom_range": "ab"}, ValueError, r"`zoom_range` should be a float"),
        (
            {"brightness_range": 0.5},
            ValueError,
            r"^`brightness_range should be tuple or list of two floats\. Received: 0\.5$",
        ),
        ({"brightness_range": (1, 2, 3)}, ValueError, r"`brightness_range should be tuple"),
        (
            {"fill_mode": "mirror"},
            ValueError,
            r"`fill_mode` must be one of .*constant.*nearest.*reflect.*wrap.*Received: fill_mode='mirror'",
        ),
        (
            {"interpolation_order": 3},
            ValueError,
            r"`interpolation_order` must be 0 .* or 1 .*Received: interpolation_order=3",
        ),
        ({"width_shift_range": -0.1}, ValueError, r"`width_shift_range` must be non-negative"),
        ({"height_shift_range": [0.1, -1]}, ValueError, r"`height_shift_range` must contain non-negative"),
        ({"height_shift_range": "x"}, TypeError, r"`height_shift_range` must be a number"),
        (
            {"rotation_range": "10"},
            TypeError,
            r"`rotation_range` must be a number\. Received: rotation_range='10'",
        ),
        ({"horizontal_flip": 1}, TypeError, r"`horizontal_flip` must be a boolean"),
        ({"seed": 1.5}, TypeError, r"`seed` must be an integer or None"),
    ],
    ids=lambda v: str(v),
)
def test_constructor_validation(kw: dict, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        Augment(**kw)


def test_make_params_validation() -> None:
    aug = Augment(rotation_range=5, seed=0)
    with pytest.raises(ValueError, match="image_hw"):
        aug.make_params((3,), [0])
    with pytest.raises(TypeError, match="indices"):
        aug.make_params((3, 3), [0.5])
    with pytest.raises(ValueError, match="indices"):
        aug.make_params((3, 3), [[0, 1]])


# ---- Augment and AugmentParams bookkeeping --------------------------------------------------


@pytest.mark.parametrize(
    "kw", [{}, {"fill_mode": "wrap", "cval": 3.0, "interpolation_order": 0, "keras_quirks": True}]
)
def test_is_identity_without_augmentation(kw: dict) -> None:
    assert Augment(**kw).is_identity


@pytest.mark.parametrize(
    "kw",
    [
        {"rotation_range": 1},
        {"width_shift_range": 1},
        {"height_shift_range": [0.1]},
        {"shear_range": 1},
        {"zoom_range": 0.1},
        {"channel_shift_range": 1},
        {"brightness_range": (1, 1)},
        {"horizontal_flip": True},
        {"vertical_flip": True},
    ],
    ids=str,
)
def test_is_not_identity(kw: dict) -> None:
    assert not Augment(**kw).is_identity


def test_seed_and_repr() -> None:
    assert isinstance(Augment().seed, int) and Augment(seed=5).seed == 5
    text = repr(Augment(rotation_range=20, zoom_range=0.2, horizontal_flip=True, seed=5))
    assert "rotation_range=20.0" in text and "zoom_range=(0.8, 1.2)" in text and "seed=5" in text
    assert "fill_mode" not in text


def test_keras_dict_round_trip() -> None:
    d = {
        "theta": 12.5,
        "tx": -3.0,
        "ty": 2.0,
        "shear": 1.0,
        "zx": 0.9,
        "zy": 1.1,
        "flip_horizontal": 1,
        "flip_vertical": 0,
        "channel_shift_intensity": None,
        "brightness": 1.3,
    }
    p = AugmentParams.from_keras_dicts([d, {}])
    assert p.to_keras_dict(0) == d
    ident = p.to_keras_dict(1)
    assert ident == {
        "theta": 0.0,
        "tx": 0.0,
        "ty": 0.0,
        "shear": 0.0,
        "zx": 1.0,
        "zy": 1.0,
        "flip_horizontal": 0,
        "flip_vertical": 0,
        "channel_shift_intensity": None,
        "brightness": None,
    }
    assert type(ident["flip_horizontal"]) is int and type(ident["theta"]) is float
    assert p.channel_shift_intensity is None and math.isnan(p.brightness[1])
    with pytest.raises(IndexError):
        p.to_keras_dict(2)


def test_params_cat_to_len_and_validation() -> None:
    a = AugmentParams.from_keras_dicts([{"brightness": 2.0}])
    b = AugmentParams.from_keras_dicts([{"channel_shift_intensity": 4.0}, {}])
    c = AugmentParams.cat([a, b])
    assert len(c) == 3 and c.theta.dtype == torch.float64 and c.flip_vertical.dtype == torch.bool
    assert c.to_keras_dict(0)["brightness"] == 2.0 and c.to_keras_dict(1)["brightness"] is None
    assert (
        c.to_keras_dict(1)["channel_shift_intensity"] == 4.0
        and c.to_keras_dict(0)["channel_shift_intensity"] is None
    )
    assert c.to("cpu").theta.device.type == "cpu" and len(AugmentParams.cat([])) == 0
    with pytest.raises(ValueError, match="same length"):
        AugmentParams(**{**{k: getattr(c, k) for k in c.to_keras_dict(0)}, "theta": torch.zeros(2)})
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        AugmentParams(**{**{k: getattr(c, k) for k in c.to_keras_dict(0)}, "tx": [0.0, 0.0, 0.0]})
    with pytest.raises(TypeError):
        AugmentParams.from_keras_dicts([("theta", 1.0)])
