"""``ImageDataGenerator.flow`` / ``NumpyArrayIterator`` (keras-semantics §A15, §A16): differential
tests against Keras's own ``NumpyArrayIterator`` (shuffle=False, no augmentation), augmentation
against our own ``apply_transform``, and determinism for 0 and 2 workers."""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pytest
import torch

import kdir_torch as kt
from kdir_torch.keras.array_iterator import NumpyArrayIterator

N, H, W = 10, 4, 5
RNG = np.random.default_rng(0)
X_U8 = RNG.integers(0, 256, (N, H, W, 3)).astype(np.uint8)
X_F = (RNG.random((N, H, W, 3)) * 600 - 150).astype(np.float32)  # not 0..255, not integral
Y_INT = np.array([0, 1, 2] * 3 + [0])
Y_ONEHOT = np.eye(3, dtype=np.float32)[Y_INT]
SW = RNG.random(N)


def _kimage():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("keras")
    from keras.src.legacy.preprocessing import image as kimage

    return kimage


def _tuple(batch):
    return batch if isinstance(batch, tuple) else (batch,)


def _flat(batch):
    """Leaves of a batch, in order (lists of extra inputs flattened)."""
    out = []
    for b in _tuple(batch):
        out.extend(b if isinstance(b, list) else [b])
    return out


def _assert_same(got, want):
    """Our batch (tensors; numpy for string labels) equals Keras's (numpy), dtypes included."""
    assert [isinstance(b, list) for b in _tuple(got)] == [isinstance(b, list) for b in _tuple(want)]
    got, want = _flat(got), _flat(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if isinstance(g, torch.Tensor):
            assert g.dtype == torch.from_numpy(np.asarray(w)).dtype
            g = g.numpy()
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def _both(x, y=None, gen_kw=None, **kw):
    kimage = _kimage()
    gen_kw = gen_kw or {}
    ours = kt.ImageDataGenerator(**gen_kw).flow(x, y, **kw)
    ref = kimage.ImageDataGenerator(**gen_kw).flow(x, y, **kw)
    return ours, ref


# -- differential: batches, dtypes, shapes (§A15) ----------------------------------------------
@pytest.mark.keras
@pytest.mark.parametrize("x, y, data_format, sw", [
    (X_U8, Y_INT, "channels_last", None),
    (X_F, Y_ONEHOT, "channels_last", SW),
    (X_F.astype(np.float64), Y_INT.astype(np.float32), "channels_last", None),
    (X_U8.transpose(0, 3, 1, 2), Y_INT, "channels_first", SW),
    (X_U8[..., :1], np.array(list("abcabcabca")), "channels_last", None),  # string labels
    (X_F, None, "channels_last", None),
    (X_F, None, "channels_last", SW),  # Keras drops the weights without labels
])
def test_batches_match_keras(x, y, data_format, sw):
    ours, ref = _both(x, y, {"data_format": data_format}, batch_size=4, shuffle=False,
                      sample_weight=sw)
    assert len(ours) == len(ref) == 3 and ours.n == ref.n
    for i in range(len(ref)):  # sequence protocol
        _assert_same(ours[i], ref[i])
    for _ in range(len(ref) + 1):  # generator protocol, into the next epoch
        _assert_same(next(ours), next(ref))
        assert (ours.batch_index, ours.total_batches_seen) == (ref.batch_index,
                                                              ref.total_batches_seen)


@pytest.mark.keras
@pytest.mark.parametrize("misc", [np.arange(N) * 1.5, [np.arange(N), RNG.random((N, 2))]])
@pytest.mark.parametrize("y", [Y_INT, None])
def test_extra_inputs_match_keras(misc, y):  # §A15 (images, misc) / (images, [misc, ...])
    ours, ref = _both((X_U8, misc), y, batch_size=4, shuffle=False, sample_weight=SW)
    for i in range(len(ref)):
        got = ours[i]
        _assert_same(got, ref[i])
        assert isinstance(got if y is None else got[0], list)


@pytest.mark.keras
def test_standardization_matches_keras():  # §A7: standardize after (no) augmentation
    kw = {"rescale": 1 / 255.0, "samplewise_center": True, "samplewise_std_normalization": True}
    ours, ref = _both(X_U8, Y_INT, kw, batch_size=4, shuffle=False)
    for i in range(len(ref)):
        np.testing.assert_allclose(ours[i][0].numpy(), ref[i][0], rtol=1e-5, atol=1e-5)


def test_tensor_inputs_equal_numpy_inputs():
    gen = kt.ImageDataGenerator()
    a = gen.flow(X_F, Y_INT, batch_size=4, shuffle=False, sample_weight=SW)
    b = gen.flow(torch.from_numpy(X_F), torch.from_numpy(Y_INT), batch_size=4, shuffle=False,
                 sample_weight=torch.from_numpy(SW))
    for i in range(len(a)):
        for p, q in zip(a[i], b[i]):
            assert p.dtype == q.dtype and torch.equal(p, q)


def test_views_and_read_only_arrays():
    x = X_U8[::-1]
    y = Y_INT.copy()
    y.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning about the read-only labels
        xb, yb = kt.ImageDataGenerator().flow(x, y, batch_size=N, shuffle=False)[0]
    np.testing.assert_array_equal(xb.numpy(), x)
    np.testing.assert_array_equal(yb.numpy(), y)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("workers", [0, 2])
def test_float_images_are_not_truncated(dtype, workers):
    gen = kt.ImageDataGenerator(dtype=dtype)
    x, _ = gen.flow(X_F, Y_INT, batch_size=N, shuffle=False, num_workers=workers)[0]
    want = torch.from_numpy(X_F).to(getattr(torch, dtype))
    assert x.dtype == want.dtype and torch.equal(x, want)


def test_storage_and_uint8_ring():
    it = kt.ImageDataGenerator().flow(X_U8, Y_INT, num_workers=2)
    assert it.x.dtype == torch.uint8 and it.x.data_ptr() == torch.from_numpy(X_U8).data_ptr()
    assert it.loader._slots is not None  # uint8 rows use the shared uint8 ring
    it = kt.ImageDataGenerator().flow(X_F, Y_INT, num_workers=2)
    assert it.x.dtype == torch.float32 and it.loader._slots is None  # float rows do not


# -- differential: subset split (§A15) ---------------------------------------------------------
@pytest.mark.keras
@pytest.mark.parametrize("subset", ["training", "validation"])
def test_subset_split_matches_keras(subset):
    gen_kw = {"validation_split": 0.35}  # split_idx = int(10 * 0.35) = 3
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    ours, ref = _both((X_F, np.arange(N)), y, gen_kw, batch_size=4, shuffle=False,
                      subset=subset)
    assert ours.n == ref.n == (3 if subset == "validation" else 7)
    for i in range(len(ref)):
        _assert_same(ours[i], ref[i])


def test_subset_slices_sample_weights_along():  # Keras keeps the whole weight array (bug)
    gen = kt.ImageDataGenerator(validation_split=0.35)
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    _, _, w = gen.flow(X_F, y, batch_size=N, shuffle=False, sample_weight=SW, subset="training")[0]
    np.testing.assert_array_equal(w.numpy(), SW[3:])


@pytest.mark.keras
def test_empty_validation_subset_matches_keras():
    ours, ref = _both(X_U8, Y_INT, {"validation_split": 0.05}, subset="validation",
                      ignore_class_split=True, shuffle=False)
    assert len(ours) == len(ref) == 0
    x, y = next(ours)
    kx, ky = next(ref)
    assert tuple(x.shape) == kx.shape == (0, H, W, 3) and tuple(y.shape) == ky.shape


# -- differential: errors and warnings (§A16) --------------------------------------------------
def _raised(make):
    with pytest.raises(Exception) as info:
        make()
    return type(info.value), str(info.value)


@pytest.mark.keras
@pytest.mark.parametrize("args, kw, gen_kw", [
    ((X_U8[0],), {}, {}),                                        # rank 3
    ((X_U8.reshape(N, H * W * 3),), {}, {}),                     # rank 2
    ((X_U8, Y_INT[:3]), {}, {}),                                 # x / y length
    ((X_U8, Y_INT), {"sample_weight": SW[:4]}, {}),              # sample_weight length
    (((X_U8, np.arange(3)), Y_INT), {}, {}),                     # misc length
    (((X_U8, [np.arange(N), np.arange(2)]), None), {}, {}),      # misc list length
    ((X_U8, Y_INT), {"subset": "test"}, {"validation_split": 0.3}),
    ((X_U8, np.sort(Y_INT)), {"subset": "training"}, {"validation_split": 0.3}),  # class split
    ((X_U8, Y_INT), {"subset": "training"}, {}),                 # split 0: no validation classes
    ((X_U8[:, 0], Y_INT[:3]), {}, {}),                           # length checked before rank
])
def test_errors_match_keras(args, kw, gen_kw):
    kimage = _kimage()
    want = _raised(lambda: kimage.ImageDataGenerator(**gen_kw).flow(*args, **kw))
    got = _raised(lambda: kt.ImageDataGenerator(**gen_kw).flow(*args, **kw))
    assert got == want


@pytest.mark.keras
def test_class_split_check_can_be_ignored():
    gen_kw = {"validation_split": 0.3}
    ours, ref = _both(X_U8, np.sort(Y_INT), gen_kw, subset="training", ignore_class_split=True,
                      shuffle=False)
    assert ours.n == ref.n == 7


@pytest.mark.keras
@pytest.mark.parametrize("x, data_format", [
    (np.zeros((2, 4, 5, 5), np.uint8), "channels_last"),
    (np.zeros((2, 2, 4, 5), np.float32), "channels_first"),
])
def test_channel_warning_matches_keras(x, data_format):
    kimage = _kimage()
    texts = []
    for gen in (kimage.ImageDataGenerator(data_format=data_format),
                kt.ImageDataGenerator(data_format=data_format)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            it = gen.flow(x, shuffle=False)
        texts.append([(w.category, str(w.message)) for w in caught])
        assert it.n == 2  # only a warning
    assert texts[0] == texts[1] and len(texts[0]) == 1


def test_bad_loader_arguments():
    with pytest.raises(ValueError, match="`batch_size` must be >= 1"):
        kt.ImageDataGenerator().flow(X_U8, batch_size=0)
    with pytest.raises(TypeError, match="`shuffle` must be"):
        kt.ImageDataGenerator().flow(X_U8, shuffle="yes")


# -- augmentation: equal to our own apply_transform of the drawn params ------------------------
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_augmented_batches_equal_apply_transform(data_format):
    gen = kt.ImageDataGenerator(rotation_range=40, width_shift_range=0.2, zoom_range=0.3,
                                horizontal_flip=True, channel_shift_range=20.0,
                                rescale=1 / 255.0, data_format=data_format)
    x = X_U8 if data_format == "channels_last" else X_U8.transpose(0, 3, 1, 2)
    it = gen.flow(x, Y_INT, batch_size=4, shuffle=True, seed=3)
    for _ in range(2):  # two epochs: new order, new draws
        for i in range(len(it)):
            xb, yb = it[i]
            for k, j in enumerate(it.index_array[i * 4:(i + 1) * 4]):
                params = gen.augment.make_params((H, W), torch.tensor([int(j)]),
                                                 epoch=it.epoch, seed=3).to_keras_dict(0)
                want = gen.standardize(gen.apply_transform(x[j].astype(np.float32), params))
                np.testing.assert_allclose(xb[k].numpy(), want, rtol=1e-5, atol=1e-5)
                assert yb[k] == Y_INT[j]
        it.on_epoch_end()


@pytest.mark.parametrize("x", [X_U8, X_F])
def test_deterministic_for_0_and_2_workers(x):
    gen = kt.ImageDataGenerator(rotation_range=30, horizontal_flip=True, shear_range=10)
    runs = []
    for workers in (0, 2):
        it = gen.flow((x, np.arange(N)), Y_INT, batch_size=3, seed=7, sample_weight=SW,
                      num_workers=workers)
        runs.append([list(it), list(it), [it[i] for i in range(len(it))]])
    for a, b in zip(*runs):
        for p, q in zip(a, b):
            for s, t in zip(_flat(p), _flat(q)):
                assert torch.equal(s, t)
    one, two = runs[0][0], runs[0][1]
    assert not all(torch.equal(p[0][0], q[0][0]) for p, q in zip(one, two))  # new epoch


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("x, workers", [(X_U8, 0), (X_U8, 1), (X_F, 1)])
def test_device_batches_equal_cpu_batches(x, workers):
    gen = kt.ImageDataGenerator(rotation_range=20, horizontal_flip=True, rescale=1 / 255.0)
    kw = {"batch_size": 4, "seed": 3, "sample_weight": SW}
    cpu = list(gen.flow((x, np.arange(N)), Y_INT, **kw))
    gpu = list(gen.flow((x, np.arange(N)), Y_INT, device="cuda", num_workers=workers, **kw))
    assert len(cpu) == len(gpu) == 3
    for a, b in zip(cpu, gpu):
        for s, t in zip(_flat(a), _flat(b)):
            assert t.is_cuda and t.dtype == s.dtype
            torch.testing.assert_close(t.cpu(), s, rtol=1e-5, atol=1e-5)


# -- attributes, saving -------------------------------------------------------------------------
def test_attributes_and_direct_construction():
    gen = kt.ImageDataGenerator(data_format="channels_first", dtype="float64")
    x = X_U8.transpose(0, 3, 1, 2)
    it = NumpyArrayIterator((x, np.arange(N)), Y_INT, gen, batch_size=4, sample_weight=SW)
    assert it.shuffle is False and it.data_format == "channels_first"
    assert it.dtype == torch.float64 and it.n == N and len(it) == 3
    assert torch.equal(it.y, torch.from_numpy(Y_INT)) and len(it.x_misc) == 1
    assert torch.equal(it.sample_weight, torch.from_numpy(SW))
    assert kt.NumpyArrayIterator is NumpyArrayIterator
    (xb, misc), yb, wb = it[0]
    assert xb.shape == (4, 3, H, W) and xb.dtype == torch.float64 and misc.shape == (4,)
    assert torch.equal(yb, it.y[:4]) and torch.equal(wb, it.sample_weight[:4])


def test_save_to_dir(tmp_path):  # §A13: hash in [0, 1e4) for arrays, as Keras
    it = kt.ImageDataGenerator().flow((X_U8, np.arange(N)), None, batch_size=4, shuffle=False,
                                      save_to_dir=str(tmp_path), save_prefix="arr")
    next(it)
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 4 and sorted(int(n.split("_")[1]) for n in names) == [0, 1, 2, 3]
    assert all(re.fullmatch(r"arr_\d_\d{1,4}\.png", n) for n in names)
