"""DirectoryIterator: Keras's iterator protocol (keras-semantics §A6), batches (§A7, §A9), saving
(§A13), and differential tests against Keras's own ``DirectoryIterator`` (shuffle=False)."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import torch

from _trees import indexed_tree
from kdir_torch.keras.directory_iterator import DirectoryIterator
from kdir_torch.keras.image_data_generator import ImageDataGenerator

COUNTS = {"a": 4, "b": 3, "c": 3}  # n = 10


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return indexed_tree(tmp_path_factory.mktemp("it") / "root", COUNTS)


def _flow(root, gen=None, **kw):
    kw.setdefault("target_size", (6, 5))
    return (gen or ImageDataGenerator()).flow_from_directory(root, **kw)


def _keras_idg():
    """Keras's legacy ImageDataGenerator (torch backend), or skip when keras is absent."""
    os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported
    pytest.importorskip("keras")
    from keras.src.legacy.preprocessing.image import ImageDataGenerator as KerasIDG

    return KerasIDG


def _first_pixels(x, data_format="channels_last"):
    return (x[..., 0, 0, 0] if data_format == "channels_first" else x[:, 0, 0, 0]).tolist()


# -- §A6 generator protocol --------------------------------------------------------------------
@pytest.mark.parametrize("n_calls, batch_size, sizes, batch_indices", [
    (4, 4, [4, 4, 2, 4], [1, 2, 0, 1]),           # partial last batch, then a new epoch
    (3, 5, [5, 5, 5], [1, 0, 1]),                 # n divisible by batch_size
    (3, 32, [10, 10, 10], [0, 0, 0]),             # batch_size > n: the whole set every time
])
def test_next_protocol(tree, n_calls, batch_size, sizes, batch_indices):
    it = _flow(tree, batch_size=batch_size, shuffle=False)
    assert it.batch_index == 0 and it.total_batches_seen == 0 and it.index_array is None
    got_sizes, got_bi = [], []
    for _ in range(n_calls):
        x, _ = next(it)
        got_sizes.append(x.shape[0])
        got_bi.append(it.batch_index)
    assert got_sizes == sizes and got_bi == batch_indices
    assert it.total_batches_seen == n_calls and len(it) == -(-10 // batch_size)


def test_batches_never_wrap_and_epochs_reshuffle(tree):  # §A6 step 5
    it = _flow(tree, batch_size=4, shuffle=True, seed=3)
    epochs = []
    for _ in range(2):
        xs = [next(it)[0] for _ in range(len(it))]
        epochs.append(torch.cat(xs)[:, 0, 0, 0])
        assert it.batch_index == 0
    for e in epochs:
        assert sorted(e.tolist()) == list(range(10))  # every sample once per epoch
    assert epochs[0].tolist() != epochs[1].tolist() and it.epoch == 1
    assert epochs[1].tolist() == it.index_array.tolist()


def test_reset_starts_a_new_epoch_without_resetting_counters(tree):  # §A6 reset()
    it = _flow(tree, batch_size=4, shuffle=True, seed=1)
    next(it)
    it.reset()
    assert it.batch_index == 0 and it.total_batches_seen == 1
    x, _ = next(it)
    assert x.shape[0] == 4 and it.epoch == 1 and it.total_batches_seen == 2
    assert _first_pixels(x) == it.index_array[:4].tolist()


def test_for_loop_is_exactly_one_epoch(tree):  # documented difference from Keras
    it = _flow(tree, batch_size=4, shuffle=True, seed=2)
    next(it)  # mid-epoch: the for loop still starts a fresh, complete epoch
    sizes, firsts = [], []
    for x, _ in it:
        sizes.append(x.shape[0])
        firsts += _first_pixels(x)
    assert sizes == [4, 4, 2] and sorted(firsts) == list(range(10))
    assert it.batch_index == 0 and it.total_batches_seen == 4


# -- §A6 Sequence protocol ----------------------------------------------------------------------
@pytest.mark.parametrize("idx", [3, 4, -1])
def test_getitem_out_of_range_text(tree, idx):  # §A16
    it = _flow(tree, batch_size=4)
    with pytest.raises(ValueError, match=re.escape(
            f"Asked to retrieve element {idx}, but the Sequence has length 3")):
        it[idx]


def test_getitem_and_on_epoch_end(tree):
    it = _flow(tree, batch_size=4, shuffle=True, seed=9)
    x2, _ = it[2]
    assert x2.shape[0] == 2 and it.total_batches_seen == 1 and it.epoch == 0
    first = torch.cat([it[i][0] for i in range(len(it))])[:, 0, 0, 0]
    assert first.tolist() == it.index_array.tolist()
    it.on_epoch_end()
    assert it.epoch == 1
    second = torch.cat([it[i][0] for i in range(len(it))])[:, 0, 0, 0]
    assert second.tolist() == it.index_array.tolist() != first.tolist()
    assert torch.equal(it[1][0], it[1][0])  # same epoch, same batch: same pixels


def test_empty_directory_tree(tmp_path):  # §A6: len 0; next() yields empty batches
    os.makedirs(tmp_path / "root" / "a")
    it = _flow(str(tmp_path / "root"), batch_size=4)
    assert len(it) == 0 and it.n == 0 and list(it) == []
    x, y = next(it)
    assert x.shape == (0, 6, 5, 3) and y.shape == (0, 1)


# -- §A7 / §A9 batches, Part E.3 prediction alignment -------------------------------------------
@pytest.mark.parametrize("class_mode, data_format, y_shape", [
    ("categorical", "channels_last", (4, 3)),
    ("binary", "channels_first", (4,)),
    ("sparse", "channels_last", (4,)),
    ("input", "channels_first", (4, 3, 6, 5)),
    (None, "channels_last", None),
])
def test_shapes_and_dtypes(tree, class_mode, data_format, y_shape):
    gen = ImageDataGenerator(data_format=data_format)
    batch = next(_flow(tree, gen, batch_size=4, class_mode=class_mode))
    x = batch if y_shape is None else batch[0]
    assert x.dtype == torch.float32
    assert tuple(x.shape) == ((4, 6, 5, 3) if data_format == "channels_last" else (4, 3, 6, 5))
    if y_shape is not None:
        assert tuple(batch[1].shape) == y_shape and batch[1].dtype == torch.float32


def test_shuffle_false_predictions_line_up_with_classes(tree):  # Part E.3
    it = _flow(tree, batch_size=3, shuffle=False, class_mode="categorical")
    preds = torch.cat([x[:, 0, 0, 1] for x, _ in it])  # "model": reads channel 1 = class
    assert preds.tolist() == it.classes.astype(float).tolist()
    labels = torch.cat([y.argmax(1) for _, y in it])
    assert labels.tolist() == it.classes.tolist()
    shuffled = _flow(tree, batch_size=3, shuffle=True, seed=0)
    order = torch.cat([x[:, 0, 0, 0] for x, _ in shuffled]).long()
    assert order.tolist() != list(range(10))  # the trap: shuffled order != filenames order


def test_attributes_forwarded(tree):  # §A4 attribute table
    it = _flow(tree, batch_size=4, class_mode="sparse", seed=4)
    ds = it.dataset
    assert it.class_indices == {"a": 0, "b": 1, "c": 2} and it.num_classes == 3
    assert list(it.filenames) == list(ds.filenames) and it.filenames[4] == os.path.join("b", "000.png")
    assert list(it.filepaths) == [os.path.join(tree, f) for f in it.filenames]
    assert it.labels is it.classes and it.classes.dtype == np.int32
    assert (it.samples, it.n, it.image_shape, it.target_size) == (10, 10, (6, 5, 3), (6, 5))
    assert (it.color_mode, it.class_mode, it.data_format, it.seed) == ("rgb", "sparse",
                                                                      "channels_last", 4)
    assert it.sample_weight is None and it.directory == tree and it.subset is None
    assert "png" in it.white_list_formats and None in it.allowed_class_modes
    with pytest.raises(AttributeError):
        it.no_such_attribute


def test_validation_split_from_generator(tree):  # §A5
    gen = ImageDataGenerator(validation_split=0.3)
    val = _flow(tree, gen, subset="validation", shuffle=False)
    train = _flow(tree, gen, subset="training", shuffle=False)
    assert list(val.filenames) == ["a/000.png"]  # int(0.3 * 4) = 1, int(0.9) = 0
    assert val.samples + train.samples == 10 and train.num_classes == 3


def test_augmentation_is_deterministic_per_seed(tree):
    gen = ImageDataGenerator(rotation_range=30, horizontal_flip=True)
    a = [x for x, _ in _flow(tree, gen, batch_size=4, seed=5)]
    b = [x for x, _ in _flow(tree, gen, batch_size=4, seed=5, num_workers=1)]
    c = [x for x, _ in _flow(tree, gen, batch_size=4, seed=6)]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not all(p.shape == q.shape and torch.equal(p, q) for p, q in zip(a, c))


def test_save_to_dir(tree, tmp_path):  # §A13
    out = tmp_path / "saved"
    out.mkdir()
    it = _flow(tree, batch_size=4, shuffle=False, save_to_dir=str(out), save_prefix="aug",
               save_format="png")
    next(it)
    names = sorted(os.listdir(out))
    assert len(names) == 4
    assert sorted(int(n.split("_")[1]) for n in names) == [0, 1, 2, 3]
    assert all(re.fullmatch(r"aug_\d_\d{1,7}\.png", n) for n in names)


def test_direct_construction_uses_generator_defaults(tree):
    gen = ImageDataGenerator(data_format="channels_first", dtype="float64")
    it = DirectoryIterator(tree, gen, target_size=(6, 5), batch_size=2, shuffle=False)
    x, _ = next(it)
    assert x.shape == (2, 3, 6, 5) and x.dtype == torch.float64


# -- differential tests against Keras (shuffle=False) ------------------------------------------
@pytest.mark.keras
@pytest.mark.parametrize("class_mode, color_mode, data_format, target, rescale", [
    ("categorical", "rgb", "channels_last", (6, 5), None),
    ("binary", "grayscale", "channels_last", (4, 4), None),
    ("sparse", "rgba", "channels_first", (6, 5), 1 / 255.0),
    ("input", "rgb", "channels_first", (3, 7), None),
    (None, "rgb", "channels_last", (6, 5), 0.5),
])
def test_matches_keras_directory_iterator(tree, class_mode, color_mode, data_format, target,
                                          rescale):
    KerasIDG = _keras_idg()
    kw = dict(target_size=target, color_mode=color_mode, class_mode=class_mode, batch_size=4,
              shuffle=False)
    ours = ImageDataGenerator(data_format=data_format, rescale=rescale).flow_from_directory(
        tree, **kw)
    ref = KerasIDG(data_format=data_format, rescale=rescale).flow_from_directory(tree, **kw)
    assert len(ours) == len(ref) and ours.class_indices == ref.class_indices
    assert list(ours.filenames) == list(ref.filenames) and ours.image_shape == ref.image_shape
    for step in range(len(ref) + 1):  # one epoch and the wrap into the next
        want = next(ref)
        got = next(ours)
        want = want if isinstance(want, tuple) else (want,)
        got = got if isinstance(got, tuple) else (got,)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert str(g.dtype).endswith(str(w.dtype)) and tuple(g.shape) == w.shape
            np.testing.assert_array_equal(g.numpy(), w)
        assert (ours.batch_index, ours.total_batches_seen) == (ref.batch_index,
                                                              ref.total_batches_seen)


@pytest.mark.keras
def test_protocol_counters_match_keras(tree):
    """Batch sizes, batch_index and total_batches_seen under next/reset/it[i] (§A6)."""
    KerasIDG = _keras_idg()
    kw = dict(target_size=(6, 5), batch_size=4, shuffle=True, seed=1)
    ours = ImageDataGenerator().flow_from_directory(tree, **kw)
    ref = KerasIDG().flow_from_directory(tree, **kw)
    script = ["next", "next", "reset", "next", "next", "next", "item2", "next", "item0",
              "on_epoch_end", "next", "next"]
    for op in script:
        sizes = []
        for it in (ours, ref):
            if op == "next":
                sizes.append(next(it)[0].shape[0])
            elif op == "reset":
                it.reset()
            elif op == "on_epoch_end":
                it.on_epoch_end()
            else:
                sizes.append(it[int(op[-1])][0].shape[0])
        assert len(set(sizes)) <= 1, (op, sizes)
        assert (ours.batch_index, ours.total_batches_seen, len(ours)) == (
            ref.batch_index, ref.total_batches_seen, len(ref)), op


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_batches_equal_cpu_batches(tree):
    gen = ImageDataGenerator(rotation_range=20, horizontal_flip=True, rescale=1 / 255.0)
    cpu = [b for b in _flow(tree, gen, batch_size=4, seed=3)]
    gpu = [b for b in _flow(tree, gen, batch_size=4, seed=3, device="cuda", num_workers=1)]
    for (xc, yc), (xg, yg) in zip(cpu, gpu):
        assert xg.is_cuda and yg.is_cuda
        torch.testing.assert_close(xg.cpu(), xc, atol=1e-4, rtol=1e-4)
        assert torch.equal(yg.cpu(), yc)


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"batch_size": -1}, ValueError, "`batch_size` must be >= 1 (0 is accepted only for an "
     "empty dataset). Received: batch_size=-1"),
    ({"shuffle": "no"}, TypeError, "`shuffle` must be a bool"),
    ({"seed": "1"}, TypeError, "`seed` must be an integer or None"),
    ({"num_workers": -2}, ValueError, "`num_workers` must be >= 0"),
    ({"class_mode": "multi"}, ValueError, "Invalid class_mode: multi; expected one of"),  # §A16
    ({"color_mode": "cmyk"}, ValueError, 'Invalid color mode: cmyk; expected "rgb"'),    # §A16
])
def test_bad_arguments_fail_before_listing(tmp_path, capsys, kwargs, exc, text):
    with pytest.raises(exc, match=re.escape(text)):
        _flow(str(tmp_path / "missing"), **kwargs)  # no FileNotFoundError: checked first
    assert "Found" not in capsys.readouterr().out
