"""``kt.split``: N-way, stratified, deterministic splits whose parts are datasets
(kdir_torch/datasets/subsets.py). Property tests run on the split maths and on modern datasets
built from path lists (no disk); the rest on real trees."""

from __future__ import annotations

import math
import os
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import Subset

import kdir_torch as kt
from _trees import CounterAugment, indexed_tree, stacked_items
from kdir_torch.datasets.subsets import split_indices

SIZE = (6, 5)

counts_st = st.lists(st.integers(0, 40), min_size=1, max_size=6)
points_st = st.lists(st.integers(1, 999), min_size=1, max_size=4, unique=True).map(
    lambda v: [k / 1000 for k in sorted(v)])


def _classes(counts, seed):
    cls = np.repeat(np.arange(len(counts)), counts).astype(np.int32)
    return np.random.default_rng(seed).permutation(cls)


@settings(max_examples=300, deadline=None)
@given(counts=counts_st, points=points_st, seed=st.integers(0, 2**31), stratify=st.booleans())
def test_split_properties(counts, points, seed, stratify):
    cls = _classes(counts, seed)
    n = len(cls)
    parts = split_indices(n, points, seed, cls if stratify else None)
    assert len(parts) == len(points) + 1
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(n))  # disjoint and complete
    assert all(np.all(np.diff(p) > 0) for p in parts)  # each in dataset order
    bounds = [0.0, *points, 1.0]
    for k, part in enumerate(parts):
        share = bounds[k + 1] - bounds[k]
        if stratify:  # every class within one sample of its exact share
            got = np.bincount(cls[part], minlength=len(counts))
            assert np.all(np.abs(got - share * np.asarray(counts)) <= 1 + 1e-9)
        else:
            assert abs(len(part) - share * n) <= 1 + 1e-9
    again = split_indices(n, points, seed, cls if stratify else None)
    assert all(np.array_equal(p, q) for p, q in zip(parts, again))  # deterministic


@settings(max_examples=100, deadline=None)
@given(counts=counts_st, points=points_st, seed=st.integers(0, 2**31))
def test_parts_are_datasets_with_their_samples(counts, points, seed):
    cls = _classes(counts, seed)
    names = [f"c{k}" for k in range(len(counts))]
    paths = [os.path.join("/data", names[c], f"{i}.png") for i, c in enumerate(cls)]
    ds = kt.ModernDirDataset(paths, cls, class_names=names, image_size=SIZE)
    parts = kt.split(ds, points, seed=seed)
    assert sum(len(p) for p in parts) == len(ds)
    for part in parts:
        idx = part.parent_indices
        assert isinstance(part, kt.ModernDirDataset)
        assert list(part.filepaths) == [paths[i] for i in idx]
        assert list(part.filenames) == list(part.filepaths)
        assert part.classes.tolist() == cls[idx].tolist()
        assert part.class_names == names and part.class_indices == ds.class_indices


def test_split_is_seeded():
    cls = _classes([30, 30], 0)
    a = split_indices(60, [0.5], 0, cls)
    assert all(np.array_equal(p, q) for p, q in zip(a, split_indices(60, [0.5], 0, cls)))
    assert not np.array_equal(a[0], split_indices(60, [0.5], 1, cls)[0])


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return indexed_tree(tmp_path_factory.mktemp("split") / "root",
                        {"a": 10, "b": 5, "c": 1, "d": 0})


def legacy(root, **kw):
    return kt.KerasDirDataset(root, target_size=SIZE, class_mode="categorical", verbose=False,
                              **kw)


def test_three_way_split_of_a_tree(tree):
    ds = legacy(tree)
    test, val, train = kt.split(ds, [0.2, 0.4], seed=0)
    assert [type(p) for p in (test, val, train)] == [kt.KerasDirDataset] * 3
    # per class: a 10 -> 2/2/6, b 5 -> 1/1/3, c 1 -> 0/0/1 (round(0.2), round(0.4) = 0)
    assert [np.bincount(p.classes, minlength=4).tolist() for p in (test, val, train)] == [
        [2, 1, 0, 0], [2, 1, 0, 0], [6, 3, 1, 0]]
    for part in (test, val, train):
        idx = part.parent_indices
        assert list(part.filenames) == [ds.filenames[i] for i in idx]
        assert list(part.filepaths) == [ds.filepaths[i] for i in idx]
        assert part.class_indices == ds.class_indices and part.class_names == ds.class_names
        assert part.num_classes == 4 and part.samples == len(idx)
        for k, i in enumerate(idx):
            x, y = part[k]
            assert int(x[0, 0, 0]) == i  # channel 0 encodes the file's position in ds
            assert torch.equal(y, ds[int(i)][1])


def test_parts_keep_the_parent_draws_and_their_own_epoch(tree):
    ds = legacy(tree, augment=CounterAugment(seed=5))
    _, part = kt.split(ds, [0.5], seed=2)
    part.set_epoch(3)
    assert ds.epoch == 0 and part.epoch == 3
    ds.set_epoch(3)
    for k, i in enumerate(part.parent_indices):
        assert torch.equal(part[k][0], ds[int(i)][0])
    nested = kt.split(part, [0.5], seed=0)[1]  # a part of a part keys by the first parent
    nested.set_epoch(3)
    assert torch.equal(nested[0][0], ds[int(part.parent_indices[nested.parent_indices[0]])][0])


def test_parts_drive_the_loader_with_workers(tree):
    ds = legacy(tree, augment=CounterAugment(seed=1))
    _, train = kt.split(ds, 0.3, seed=4)
    loader = kt.make_loader(train, batch_size=4, num_workers=2, seed=0, return_indices=True)
    assert loader._slots is not None and len(loader) == math.ceil(len(train) / 4)
    seen = []
    for x, y, idx in loader:
        ex, ey = stacked_items(train, idx.tolist(), epoch=0)
        assert torch.equal(x, ex) and torch.equal(y, ey)
        seen += idx.tolist()
    assert sorted(seen) == list(range(len(train)))


def test_parts_pickle_and_finish_in_workers(tree):  # spawn / forkserver workers pickle them
    ds = legacy(tree, augment=CounterAugment(seed=6))
    part = kt.split(ds, [0.5], seed=3)[0]
    copy = pickle.loads(pickle.dumps(part))
    assert list(copy.filenames) == list(part.filenames)
    assert torch.equal(copy[1][0], part[1][0]) and torch.equal(copy[1][1], part[1][1])
    loader = kt.make_loader(part, batch_size=3, num_workers=2, augment_on="worker", seed=0,
                            return_indices=True)
    for x, y, idx in loader:
        ex, ey = stacked_items(part, idx.tolist(), epoch=0)
        assert torch.equal(x, ex) and torch.equal(y, ey)


def test_empty_parts_and_empty_datasets(tree, tmp_path):
    empty = kt.KerasDirDataset(str(tmp_path), classes=["x"], verbose=False)
    assert [len(p) for p in kt.split(empty, [0.5])] == [0, 0]
    tiny = kt.split(legacy(tree), [0.01, 0.02], seed=0)
    assert [len(p) for p in tiny] == [0, 0, 16]  # round(0.01 n_c) = round(0.02 n_c) = 0
    assert len(kt.make_loader(tiny[0], num_workers=0)) == 0


def test_split_of_a_subset_and_unstratified(tree):
    ds = legacy(tree)
    sub = Subset(ds, list(range(0, 16, 2)))
    parts = kt.split(sub, [0.5], seed=0, stratify=False)
    assert sorted(np.concatenate([p.parent_indices for p in parts]).tolist()) == list(range(8))
    assert [len(p) for p in parts] == [4, 4]
    assert all(f in set(ds.filenames[0:16:2]) for p in parts for f in p.filenames)


@pytest.mark.parametrize("points", [[0.4, 0.2], [0.0, 0.5], [0.5, 1.0], [1.5], [], [0.2, 0.2],
                                    [float("nan")], [True], "0.2", None, [0.2, "x"]])
def test_bad_points_name_the_points(tree, points):
    with pytest.raises(ValueError, match="strictly increasing in \\(0, 1\\).*Received: points="
                                         + ("" if points is None else "\\" + repr(points)[0])):
        kt.split(legacy(tree), points)


def test_split_errors(tree):
    ds = legacy(tree)
    unlabelled = kt.ModernDirDataset(["/x/1.png", "/x/2.png"], None)
    with pytest.raises(ValueError, match="needs the class of every sample"):
        kt.split(unlabelled, [0.5])
    assert [len(p) for p in kt.split(unlabelled, [0.5], stratify=False)] == [1, 1]
    with pytest.raises(TypeError, match="stratify"):
        kt.split(ds, [0.5], stratify=1)
    with pytest.raises(TypeError, match="pass its `.dataset`"):
        kt.split(kt.image_dataset_from_directory(tree, image_size=SIZE, verbose=False), [0.5])
    with pytest.raises(TypeError, match="seed"):
        kt.split(ds, [0.5], seed="0")
    fresh = [kt.split(ds, [0.5], seed=None)[0].parent_indices.tolist() for _ in range(4)]
    assert all(len(f) == len(fresh[0]) for f in fresh)
