"""Standardizer vs Keras's legacy ``ImageDataGenerator.standardize`` / ``fit`` (keras-semantics §A12).

Differential tests run the real Keras 3 legacy generator (KERAS_BACKEND=torch) on the same
arrays; every warning and error text of §A16 that belongs to standardization is pinned.
"""

from __future__ import annotations

import os
import re
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

from kdir_torch.standardize import Standardizer
from kdir_torch.standardize_fit import zca_matrix


def keras_idg(**kw):
    """A real Keras legacy ImageDataGenerator (skips the test when keras is absent)."""
    kimg = pytest.importorskip("keras.src.legacy.preprocessing.image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kimg.ImageDataGenerator(**kw)


def images(shape, seed=0, lo=0.0, hi=255.0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (lo + (hi - lo) * torch.rand(shape, generator=g, dtype=torch.float64)).to(dtype).numpy()


def layout(data_format, n=None, h=5, w=7, c=3):
    hwc = (h, w, c) if data_format == "channels_last" else (c, h, w)
    return hwc if n is None else (n, *hwc)


def close(ours, theirs, rtol=1e-5, atol=1e-4):
    torch.testing.assert_close(
        torch.as_tensor(np.asarray(ours), dtype=torch.float64),
        torch.as_tensor(np.asarray(theirs), dtype=torch.float64),
        rtol=rtol,
        atol=atol,
    )


def quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def brg_swap(x):  # a typical Keras preprocessing_function (caffe-style channel flip + offset)
    return x[..., ::-1] - 100.0


# §A12 steps 1-4: each config standardizes one image exactly like Keras.
SINGLE_IMAGE_CONFIGS = [
    dict(rescale=1 / 255),
    dict(rescale=0),  # falsy rescale is skipped
    dict(samplewise_center=True),
    dict(samplewise_center=True, samplewise_std_normalization=True, rescale=1 / 127.5),
    dict(preprocessing_function=lambda x: x - 128.0, rescale=0.5),  # function runs before rescale
    dict(preprocessing_function=lambda x: np.sqrt(x), samplewise_center=True),
]


@pytest.mark.keras
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("config", SINGLE_IMAGE_CONFIGS)
def test_standardize_single_image_matches_keras(config, data_format):
    k = keras_idg(data_format=data_format, **config)
    ours = quiet(Standardizer, data_format=data_format, **config)
    x = images(layout(data_format), seed=1)
    close(ours.standardize(x), k.standardize(x.copy()))


@pytest.mark.keras
def test_preprocessing_function_sees_numpy_image_before_rescale():
    """§A12.1 / Part E.15: the function receives the 0..255 image, then rescale applies."""
    seen = []

    def fn(img):
        seen.append((type(img), img.shape, float(img.max())))
        return brg_swap(img)

    x = images(layout("channels_last", n=3), seed=2)
    ours = Standardizer(preprocessing_function=fn, rescale=1 / 255, data_format="channels_last")
    out = ours.standardize(x)
    assert seen == [(np.ndarray, (5, 7, 3), float(img.max())) for img in x]
    k = keras_idg(preprocessing_function=brg_swap, rescale=1 / 255)
    close(out, np.stack([k.standardize(img.copy()) for img in x]))


@pytest.mark.keras
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize(
    "config",
    [
        dict(featurewise_center=True),
        dict(featurewise_center=True, featurewise_std_normalization=True),
        dict(featurewise_center=True, featurewise_std_normalization=True, rescale=1 / 255),
        dict(featurewise_center=True, preprocessing_function=lambda x: x * 0 + 7.0),  # not in fit
    ],
)
def test_featurewise_fit_and_standardize_match_keras(config, data_format):
    """§A12 fit steps 1-5: per-channel mean/std shapes and values, then standardize."""
    x = images(layout(data_format, n=20, h=6, w=4), seed=3)
    k = keras_idg(data_format=data_format, **config)
    k.fit(x)
    ours = Standardizer(data_format=data_format, **config)
    ours.fit(torch.from_numpy(x))
    for name in ("mean", "std"):
        theirs = getattr(k, name)
        if theirs is None:
            assert getattr(ours, name) is None
            continue
        assert tuple(getattr(ours, name).shape) == theirs.shape
        assert getattr(ours, name).dtype == torch.float32
        close(getattr(ours, name), theirs)
    close(ours.standardize(x[0]), k.standardize(x[0].copy()))


@pytest.mark.keras
@pytest.mark.parametrize(
    "data_format,dtype,rtol,atol",
    [
        ("channels_last", "float64", 1e-7, 1e-9),
        ("channels_first", "float64", 1e-7, 1e-9),
        ("channels_last", "float32", 2e-3, 2e-4),
    ],
)
def test_zca_fit_and_standardize_match_keras(data_format, dtype, rtol, atol):
    """§A12 fit step 6 (L-new ZCA via SVD of the data) and standardize step 7."""
    x = images(layout(data_format, n=80, h=4, w=3), seed=4, hi=1.0)  # d = 36 < n
    k = keras_idg(data_format=data_format, zca_whitening=True, dtype=dtype)
    k.fit(x)
    ours = quiet(Standardizer, data_format=data_format, zca_whitening=True, dtype=dtype)
    ours.fit(x)
    assert ours.zca_whitening_matrix.shape == (36, 36)
    close(ours.zca_whitening_matrix, k.zca_whitening_matrix, rtol=rtol, atol=atol)
    close(ours.mean, k.mean, rtol=rtol, atol=atol)
    batch = x[:5].astype(dtype)
    close(ours.standardize(batch), k.standardize(batch.copy()), rtol=rtol, atol=atol * 10)


def test_zca_matrix_whitens_the_data():
    """Independent of Keras: W @ centred data has identity covariance (n >> d)."""
    x = torch.from_numpy(images((500, 2, 2, 2), seed=5)).double()
    x = x - x.mean(dim=(0, 1, 2))
    w = zca_matrix(x, 0.0)
    white = x.reshape(500, -1) @ w
    torch.testing.assert_close(white.T @ white / 500, torch.eye(8, dtype=torch.float64))


@pytest.mark.keras
def test_whole_array_mode_matches_keras_on_a_batch():
    """§A12.3: Keras takes samplewise statistics over the whole array passed."""
    cfg = dict(
        samplewise_center=True, samplewise_std_normalization=True, preprocessing_function=brg_swap
    )
    x = images(layout("channels_last", n=4), seed=6)
    ours = Standardizer(data_format="channels_last", **cfg)
    close(ours.standardize(x, whole_array=True), keras_idg(**cfg).standardize(x.copy()))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_batched_standardize_equals_per_image(data_format):
    x = images(layout(data_format, n=6), seed=7)
    fit_data = images(layout(data_format, n=10), seed=8)
    std = Standardizer(
        samplewise_center=True,
        samplewise_std_normalization=True,
        featurewise_center=True,
        featurewise_std_normalization=True,
        rescale=0.01,
        data_format=data_format,
        preprocessing_function=lambda im: im + np.arange(im.size).reshape(im.shape),
    )
    std.fit(fit_data)
    batch = std.standardize(torch.from_numpy(x))
    torch.testing.assert_close(batch, torch.stack([std.standardize(img) for img in x]))
    assert not torch.equal(batch, std.standardize(x, whole_array=True))


def test_standardize_does_not_modify_input_and_converts_ints():
    x = images((2, 4, 4, 3), seed=9).astype(np.uint8)
    before = x.copy()
    out = Standardizer(
        rescale=2.0, samplewise_center=True, data_format="channels_last"
    ).standardize(x)
    assert np.array_equal(x, before)
    assert out.dtype == torch.float32 and out.shape == (2, 4, 4, 3)
    torch.testing.assert_close(out.mean(dim=(1, 2, 3)), torch.zeros(2), atol=1e-4, rtol=0)


@pytest.mark.keras
def test_manually_set_mean_is_used_like_keras():
    """The classic ImageNet idiom: ``gen.mean = array(...).reshape(1, 1, 3)``."""
    mean = np.array([123.68, 116.779, 103.939], dtype=np.float32).reshape((1, 1, 3))
    k = keras_idg(featurewise_center=True)
    k.mean = mean
    ours = Standardizer(featurewise_center=True, data_format="channels_last")
    ours.mean = mean
    assert isinstance(ours.mean, torch.Tensor)
    x = images((6, 6, 3), seed=10)
    close(ours.standardize(x), k.standardize(x.copy()))


NOT_FIT = (
    "This ImageDataGenerator specifies `{}`, but it hasn't been fit on any training data. "
    "Fit it first by calling `.fit(numpy_data)`."
)


@pytest.mark.parametrize(
    "config,flags",
    [
        (dict(featurewise_center=True), ["featurewise_center"]),
        (
            dict(featurewise_center=True, featurewise_std_normalization=True),
            ["featurewise_center", "featurewise_std_normalization"],
        ),
        (dict(zca_whitening=True), ["featurewise_center", "zca_whitening"]),
    ],
)
def test_unfitted_warnings(config, flags):
    """§A16 "standardize before fit": Keras's texts in order; unfitted steps are skipped."""
    std = quiet(Standardizer, data_format="channels_last", **config)
    x = images((3, 3, 3), seed=11)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ResourceWarning)  # Keras leaks ThreadPools
        out = std.standardize(x)
    assert [str(w.message) for w in rec] == [NOT_FIT.format(f) for f in flags]
    assert all(w.category is UserWarning for w in rec)
    torch.testing.assert_close(out, torch.from_numpy(x))


COUPLINGS = [
    (
        dict(zca_whitening=True),
        dict(featurewise_center=True),
        [
            "This ImageDataGenerator specifies `zca_whitening`, which overrides setting of "
            "`featurewise_center`."
        ],
    ),
    (
        dict(zca_whitening=True, featurewise_center=True, featurewise_std_normalization=True),
        dict(featurewise_std_normalization=False),
        [
            "This ImageDataGenerator specifies `zca_whitening` which overrides setting of"
            "`featurewise_std_normalization`."
        ],
    ),
    (
        dict(featurewise_std_normalization=True),
        dict(featurewise_center=True),
        [
            "This ImageDataGenerator specifies `featurewise_std_normalization`, which overrides "
            "setting of `featurewise_center`."
        ],
    ),
    (
        dict(samplewise_std_normalization=True),
        dict(samplewise_center=True),
        [
            "This ImageDataGenerator specifies `samplewise_std_normalization`, which overrides "
            "setting of `samplewise_center`."
        ],
    ),
]


@pytest.mark.parametrize("config,forced,texts", COUPLINGS)
def test_flag_coupling_warnings(config, forced, texts):
    """§A12 constructor coupling with the §A16 texts (exact, in order)."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ResourceWarning)  # Keras leaks ThreadPools
        std = Standardizer(**config)
    assert [str(w.message) for w in rec] == texts
    assert all(w.category is UserWarning for w in rec)
    for name, value in forced.items():
        assert getattr(std, name) is value


@pytest.mark.keras
@pytest.mark.parametrize(
    "config",
    [c for c, _, _ in COUPLINGS] + [dict(zca_whitening=True, featurewise_std_normalization=True)],
)
def test_flag_coupling_warnings_equal_keras(config):
    kimg = pytest.importorskip("keras.src.legacy.preprocessing.image")
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ResourceWarning)  # Keras leaks ThreadPools
        k = kimg.ImageDataGenerator(**config)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ResourceWarning)  # Keras leaks ThreadPools
        std = Standardizer(**config)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    for name in ("featurewise_center", "featurewise_std_normalization", "samplewise_center"):
        assert getattr(std, name) == getattr(k, name)


@pytest.mark.parametrize("shape", [(5, 5, 3), (2, 1, 5, 5, 3)])
def test_fit_rank_error(shape):
    """§A16 "fit rank": Keras's text with the shape tuple."""
    msg = f"Input to `.fit()` should have rank 4. Got array with shape: {shape}"
    with pytest.raises(ValueError, match=re.escape(msg)):
        Standardizer(featurewise_center=True).fit(np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize(
    "data_format,shape,axis",
    [("channels_last", (4, 5, 5, 2), 3), ("channels_first", (4, 5, 5, 5), 1)],
)
def test_fit_channel_warning(data_format, shape, axis):
    """§A16 "fit channels": warns (does not raise) when the channel axis is not 1/3/4."""
    msg = (
        "Expected input to be images (as Numpy array) following the data format convention "
        f'"{data_format}" (channels on axis {axis}), i.e. expected either 1, 3 or 4 channels on '
        f"axis {axis}. However, it was "
        f"passed an array with shape {shape} ({shape[axis]} channels)."
    )
    std = Standardizer(featurewise_center=True, data_format=data_format)
    with pytest.warns(UserWarning, match=re.escape(msg)):
        std.fit(np.ones(shape, dtype=np.float32))
    assert std.mean.numel() == shape[axis]


@pytest.mark.parametrize(
    "kwargs,exc,msg",
    [
        (
            dict(featurewise_center=1),
            TypeError,
            "`featurewise_center` must be a bool. Received: featurewise_center=1",
        ),
        (dict(rescale="1/255"), TypeError, "`rescale` must be a number. Received: rescale='1/255'"),
        (
            dict(zca_epsilon=-1.0),
            ValueError,
            "`zca_epsilon` must be >= 0. Received: zca_epsilon=-1.0",
        ),
        (
            dict(preprocessing_function=3),
            TypeError,
            "`preprocessing_function` must be callable or None.",
        ),
        (dict(data_format="NHWC"), ValueError, '`data_format` should be `"channels_last"`'),
    ],
)
def test_constructor_validation(kwargs, exc, msg):
    with pytest.raises(exc, match=re.escape(msg)):
        Standardizer(**kwargs)


def test_standardize_rank_error():
    with pytest.raises(ValueError, match=re.escape("Received: x.shape=(5, 5)")):
        Standardizer(rescale=2.0).standardize(np.zeros((5, 5)))


class RecordingAugmenter:
    """Channels-first stand-in for ``Augment``: adds ``1000 * epoch`` and records each call."""

    seed = 1234

    def __init__(self):
        self.calls = []

    def make_params(self, image_hw, indices, *, epoch=0, seed=None):
        self.calls.append((tuple(image_hw), [int(i) for i in indices], epoch, seed))
        return epoch

    def apply(self, x, params):
        assert x.dim() == 4
        return x + 1000.0 * params


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rounds", [1, 3])
def test_fit_augment_rounds(data_format, rounds):
    """§A12 fit step 3: ``rounds * N`` augmented samples, round-major, rescale first."""
    x = images(layout(data_format, n=4, h=5, w=6), seed=12)
    aug = RecordingAugmenter()
    std = Standardizer(
        featurewise_center=True,
        featurewise_std_normalization=True,
        rescale=0.5,
        data_format=data_format,
    )
    std.fit(x, augment=True, rounds=rounds, seed=99, augmenter=aug)
    assert aug.calls == [((5, 6), [0, 1, 2, 3], r, 99) for r in range(rounds)]
    scaled = x.astype(np.float64) * np.float32(0.5)
    expected = np.concatenate([scaled + 1000.0 * r for r in range(rounds)])
    axes = (0, 1, 2) if data_format == "channels_last" else (0, 2, 3)
    close(std.mean.flatten(), expected.mean(axis=axes))
    close(std.std.flatten(), expected.std(axis=axes))


def test_fit_augment_seed_none_is_derived_from_augmenter_seed():
    aug = RecordingAugmenter()
    x = images((2, 3, 3, 3), seed=13)
    for _ in range(2):
        Standardizer(featurewise_center=True).fit(x, augment=True, augmenter=aug)
    assert aug.calls[0][3] == aug.calls[1][3] != aug.seed


@pytest.mark.parametrize(
    "kwargs,exc,msg",
    [
        (dict(augment=True), TypeError, "`fit(augment=True)` needs an `augmenter`"),
        (
            dict(augment=True, rounds=0, augmenter=RecordingAugmenter()),
            ValueError,
            "`rounds` must be a positive integer. Received: rounds=0",
        ),
        (
            dict(augment=True, seed="s", augmenter=RecordingAugmenter()),
            TypeError,
            "`seed` must be an integer or None. Received: seed='s'",
        ),
    ],
)
def test_fit_augment_errors(kwargs, exc, msg):
    with pytest.raises(exc, match=re.escape(msg)):
        Standardizer(featurewise_center=True).fit(np.ones((2, 3, 3, 3)), **kwargs)


def test_fit_empty_input_error():
    with pytest.raises(ValueError, match=re.escape("Received: x.shape=(0, 3, 3, 3)")):
        Standardizer(featurewise_center=True).fit(np.ones((0, 3, 3, 3)))
