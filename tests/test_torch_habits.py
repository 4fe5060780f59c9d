"""PyTorch habits on kdir_torch's datasets, loader and facades (torchvision's conventions).

* ``targets`` / ``class_to_idx`` and ``transform=`` / ``target_transform=`` on every dataset.
* ``seed=None`` draws from torch's default generator (``torch.manual_seed`` reproduces a run);
  numpy's and Python's global RNG states are never touched.
* ``label_dtype=`` (``torch.long`` for ``CrossEntropyLoss``).
* main-process-only callables (``standardize``, a device-side ``augment``) never go to the
  workers: lambdas work under ``spawn`` (``make_loader(multiprocessing_context=...)``).
* ``filenames`` / ``filepaths`` on the Keras facades are lists; ``StringTable`` gains
  ``tolist()`` and array indexing.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import warnings

import numpy as np
import pytest
import torch
from _trees import indexed_tree

import kdir_torch as kt
from kdir_torch._rng import fresh_seed
from kdir_torch.index import StringTable
from kdir_torch.loader import SeededSampler

COUNTS = {"cat": 3, "dog": 2, "emu": 3}  # n = 8, file k has channel 0 == k


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return indexed_tree(tmp_path_factory.mktemp("habits") / "root", COUNTS)


def legacy(tree, **kw):
    kw.setdefault("target_size", (6, 5))
    return kt.KerasDirDataset(tree, verbose=False, **kw)


def stacked(ds, indices):
    items = [ds[i] for i in indices]
    if isinstance(items[0], tuple):
        return tuple(torch.stack(parts) for parts in zip(*items))
    return torch.stack(items)


# -- targets / class_to_idx ---------------------------------------------------------------------
def test_targets_and_class_to_idx_match_torchvision_image_folder(tree):
    torchvision = pytest.importorskip("torchvision")
    folder = torchvision.datasets.ImageFolder(tree)
    ds = legacy(tree)
    assert ds.targets == folder.targets == ds.classes.tolist()
    assert type(ds.targets) is list and all(type(t) is int for t in ds.targets)
    assert ds.class_to_idx == folder.class_to_idx == ds.class_indices
    assert [os.path.relpath(p, tree) for p, _ in folder.samples] == list(ds.filenames)


def test_modern_targets_and_class_to_idx(tree):
    train = kt.image_dataset_from_directory(tree, image_size=(6, 5), shuffle=False,
                                            verbose=False)
    ds = train.dataset
    assert ds.targets == [0, 0, 0, 1, 1, 2, 2, 2]
    assert ds.class_to_idx == {"cat": 0, "dog": 1, "emu": 2}
    unlabelled = kt.image_dataset_from_directory(tree, labels=None, image_size=(6, 5),
                                                 shuffle=False, verbose=False).dataset
    assert unlabelled.targets is None and unlabelled.class_to_idx == {}


# -- transform / target_transform ---------------------------------------------------------------
def test_transform_with_torchvision_v2_in_getitem_and_plain_dataloader(tree):
    v2 = pytest.importorskip("torchvision.transforms.v2")
    plain = legacy(tree)
    ds = legacy(tree, transform=v2.Compose([v2.Normalize([127.5] * 3, [127.5] * 3)]),
                target_transform=lambda y: int(y.argmax()))
    x, y = ds[5]
    x0 = plain[5][0]
    torch.testing.assert_close(x, (x0 - 127.5) / 127.5)
    assert y == 2 == ds.targets[5]
    xb, yb = next(iter(torch.utils.data.DataLoader(ds, batch_size=8)))
    torch.testing.assert_close(xb, (stacked(plain, range(8))[0] - 127.5) / 127.5)
    assert yb.tolist() == ds.targets


@pytest.mark.parametrize("num_workers", [0, 1])
def test_make_loader_applies_dataset_transforms_per_sample(tree, num_workers):
    """make_loader runs transform/target_transform per sample (in the workers, after augment),
    so its batches equal stacking ds[i]."""
    ds = legacy(tree, class_mode="sparse", augment=kt.Augment(horizontal_flip=True, seed=3),
                transform=lambda x: x[:2] * 2, target_transform=lambda y: y + 10)
    loader = kt.make_loader(ds, batch_size=3, shuffle=False, num_workers=num_workers)
    xs, ys = zip(*loader)
    x, y = torch.cat(xs), torch.cat(ys)
    ex, ey = stacked(ds, range(8))
    assert x.shape == (8, 2, 6, 5) and torch.equal(x, ex) and torch.equal(y, ey)
    assert (y - 10).tolist() == ds.targets


def test_transform_must_be_callable(tree):
    with pytest.raises(TypeError, match="`transform` must be None or a callable"):
        legacy(tree, transform="flip")
    with pytest.raises(TypeError, match="`target_transform` must be None or a callable"):
        kt.ModernDirDataset([], target_transform=3)


# -- seed=None from torch's default generator ---------------------------------------------------
def _seeds():
    """Everything that resolves seed=None, in a fixed order."""
    return (kt.Augment(rotation_range=10).seed, SeededSampler(5).seed,
            kt.ImageDataGenerator().seed, fresh_seed())


def test_seed_none_follows_torch_manual_seed_and_leaves_numpy_alone(tree):
    np_state, py_state = np.random.get_state(), random.getstate()
    torch.manual_seed(0)
    first = _seeds()
    torch.manual_seed(0)
    assert _seeds() == first
    assert len(set(first)) == len(first)  # successive draws differ
    torch.manual_seed(1)
    assert _seeds() != first
    assert kt.Augment(seed=5).seed == 5 and SeededSampler(5, seed=7).seed == 7  # explicit wins
    assert not kt.Augment().seeded and kt.Augment(seed=0).seeded  # Augment.seeded kept

    def run():
        torch.manual_seed(0)
        loader = kt.make_loader(legacy(tree, augment=kt.Augment(rotation_range=40)),
                                batch_size=8, num_workers=0)
        it = kt.ImageDataGenerator(rotation_range=30).flow_from_directory(
            tree, target_size=(6, 5), batch_size=8)
        modern = kt.image_dataset_from_directory(tree, image_size=(6, 5), verbose=False)
        moved = kt.random_rotation(np.arange(30.0).reshape(5, 6, 1), 45)
        return next(iter(loader)), next(it), list(modern.file_paths), moved

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = run(), run()
    for one, two in zip(a[:2], b[:2]):
        assert all(torch.equal(p, q) for p, q in zip(one, two))
    assert a[2] == b[2] and np.array_equal(a[3], b[3])
    assert not torch.equal(a[0][0], stacked(legacy(tree), range(8))[0])  # it did augment
    np.testing.assert_array_equal(np.random.get_state()[1], np_state[1])
    assert random.getstate() == py_state


# -- label_dtype --------------------------------------------------------------------------------
@pytest.mark.parametrize("class_mode", ["sparse", "binary"])
def test_label_dtype_long_feeds_cross_entropy(tree, class_mode):
    ds = legacy(tree, class_mode=class_mode, label_dtype=torch.long)
    assert ds[4][1].dtype == torch.int64 and ds[4][1].item() == 1
    _, y = next(iter(kt.make_loader(ds, batch_size=8, shuffle=False, num_workers=0)))
    assert y.dtype == torch.int64 and y.tolist() == ds.targets
    loss = torch.nn.CrossEntropyLoss()(torch.zeros(8, 3, requires_grad=True), y)
    assert torch.isclose(loss, torch.log(torch.tensor(3.0)))
    default = legacy(tree, class_mode=class_mode, dtype=torch.float64)
    assert default[4][1].dtype == torch.float64  # Keras: labels in the generator dtype


def test_label_dtype_other_modes_and_checks(tree):
    onehot = legacy(tree, label_dtype="float16")[0][1]
    assert onehot.dtype == torch.float16 and onehot.tolist() == [1, 0, 0]
    assert legacy(tree, class_mode="sparse", label_dtype="long")[0][1].dtype == torch.int64
    modern = kt.image_dataset_from_directory(tree, image_size=(6, 5), shuffle=False,
                                             verbose=False).dataset
    ds = kt.ModernDirDataset(modern.file_paths, modern.labels, class_names=modern.class_names,
                             image_size=(6, 5), label_dtype=torch.long)
    assert ds[7][1].dtype == torch.int64 and ds[7][1].item() == 2
    assert modern[7][1].dtype == torch.int32  # Keras's default kept
    with pytest.raises(ValueError, match="`label_dtype` does not apply to class_mode='input'"):
        legacy(tree, class_mode="input", label_dtype=torch.long)
    with pytest.raises(TypeError, match="`label_dtype` must be None"):
        legacy(tree, label_dtype="int128")


# -- main-process-only callables are not pickled to workers -------------------------------------
def _flip(x, indices, *, epoch, seed):
    return x.flip(-1)


def test_worker_view_leaves_main_process_callables_behind(tree):
    """The DataLoader pickles its dataset (the BatchFetcher) to spawn/forkserver workers: with
    finishing after the transfer it holds no lambda; augment_on="worker" needs the augment."""
    ds = legacy(tree, standardize=lambda x: x - 1)
    loader = kt.make_loader(ds, num_workers=0, augment=lambda x, i, *, epoch, seed: x * 2,
                            standardize=lambda x: x / 255)
    fetcher = pickle.loads(pickle.dumps(loader._dataloader.dataset))
    assert fetcher.dataset.augment is None and fetcher.dataset.standardize is None
    assert ds.standardize is not None  # the user's dataset is untouched
    on_worker = kt.make_loader(ds, num_workers=0, augment=_flip, augment_on="worker")
    assert on_worker._dataloader.dataset.dataset.augment is not None
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(on_worker._dataloader.dataset)  # the dataset's lambda standardize


def test_lambdas_work_under_spawn(tree):
    ds = legacy(tree, class_mode="sparse")
    loader = kt.make_loader(ds, batch_size=4, shuffle=False, num_workers=1,
                            multiprocessing_context="spawn", standardize=lambda x: x / 255,
                            augment=lambda x, i, *, epoch, seed: x.flip(-1))
    xs, ys = zip(*loader)
    ex, ey = stacked(ds, range(8))
    assert torch.equal(torch.cat(xs), ex.flip(-1) / 255) and torch.equal(torch.cat(ys), ey)
    with pytest.raises(ValueError, match="multiprocessing_context"):
        kt.make_loader(ds, num_workers=1, multiprocessing_context="no-such-method")


# -- filenames / filepaths as lists; StringTable indexing ---------------------------------------
def test_iterator_filenames_are_lists_like_keras(tree):
    it = kt.ImageDataGenerator().flow_from_directory(tree, target_size=(6, 5), shuffle=False)
    assert type(it.filenames) is list and type(it.filepaths) is list
    assert json.loads(json.dumps(it.filenames)) == it.filenames
    assert (it.filenames + ["x"])[-1] == "x" and it.filenames is it.filenames
    assert list(np.array(it.filepaths)[[7, 0]]) == [it.filepaths[7], it.filepaths[0]]
    assert isinstance(it.dataset.filenames, StringTable)  # the dataset stays compact
    batched = kt.image_dataset_from_directory(tree, image_size=(6, 5), verbose=False)
    assert type(batched.file_paths) is list and len(batched.file_paths) == 8
    kimage = pytest.importorskip("keras.src.legacy.preprocessing.image")
    theirs = kimage.ImageDataGenerator().flow_from_directory(tree, target_size=(6, 5))
    assert it.filenames == theirs.filenames and it.filepaths == theirs.filepaths


def test_string_table_tolist_and_array_indexing(tree):
    names = legacy(tree).filenames
    full = list(names)
    assert names.tolist() == full and type(names.tolist()) is list
    assert names[np.array([3, 0, -1])] == [full[3], full[0], full[-1]]
    assert names[[1, 2]] == full[1:3] and names[torch.tensor([4])] == [full[4]]
    mask = np.arange(8) % 2 == 0
    assert names[mask] == full[::2] and names[np.array([], dtype=int)] == []
    assert names[np.int64(2)] == full[2] and names[np.array(5)] == full[5]
    for bad in (np.array([8]), [0, -9], np.ones(3, bool), np.array([0.5])):
        with pytest.raises(IndexError):
            names[bad]
