"""Determinism of make_loader: worker counts, epochs, resume, no global RNG.

DESIGN.md "Randomness is ours": order and augmented pixels depend only on (seed, epoch, index).
Batching per keras-semantics §A6 (partial last batch, no wrap across the epoch boundary).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

import kdir_torch as kt
from _trees import CounterAugment, indexed_tree, stacked_items
from kdir_torch.loader import make_loader

COUNTS = {"a": 5, "b": 4, "c": 2}  # 11 samples; batch 4 -> 4, 4, 3


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return indexed_tree(tmp_path_factory.mktemp("det") / "root", COUNTS)


def _ds(root, **kw):
    return kt.KerasDirDataset(root, target_size=(6, 5), class_mode="sparse", verbose=False,
                              augment=CounterAugment(11), **kw)


def _epochs(loader, n_epochs):
    return [[tuple(t.clone() for t in batch) for batch in loader] for _ in range(n_epochs)]


def _assert_same(a, b):
    assert len(a) == len(b)
    for ba, bb in zip(a, b):
        assert len(ba) == len(bb)
        for ta, tb in zip(ba, bb):
            assert ta.dtype == tb.dtype and torch.equal(ta, tb)


def test_worker_counts_give_identical_batches_equal_to_items(tree):
    ds = _ds(tree)
    runs = {w: _epochs(make_loader(ds, batch_size=4, seed=21, num_workers=w,
                                   return_indices=True), 2) for w in (0, 1, 2)}
    for w in (1, 2):
        _assert_same(sum(runs[0], []), sum(runs[w], []))
    for epoch, batches in enumerate(runs[0]):
        assert [b[0].shape[0] for b in batches] == [4, 4, 3]
        order = torch.cat([b[2] for b in batches])
        assert sorted(order.tolist()) == list(range(11))  # a permutation per epoch (§A6)
        for x, y, idx in batches:  # == stacking ds[i] at the same epoch
            want_x, want_y = stacked_items(ds, idx, epoch)
            assert torch.equal(x, want_x) and torch.equal(y, want_y)
    assert not torch.equal(runs[0][0][0][2], runs[0][1][0][2])  # epoch 1 reshuffled


@pytest.mark.parametrize("seed_a, seed_b, same", [(1, 1, True), (1, 2, False)])
def test_seed_decides_order(tree, seed_a, seed_b, same):
    ds = _ds(tree)
    order = [torch.cat([b[2] for b in make_loader(ds, batch_size=4, seed=s, num_workers=0,
                                                  return_indices=True)]) for s in (seed_a, seed_b)]
    assert torch.equal(order[0], order[1]) == same


def test_epoch_rule(tree):
    """First iter() = epoch 0, every later iter() advances; set_epoch(e) pins the next one."""
    loader = make_loader(_ds(tree), batch_size=4, seed=5, num_workers=0, return_indices=True)
    perms = {e: torch.from_numpy(loader.sampler.permutation(e)) for e in range(4)}

    def order():
        return torch.cat([b[2] for b in loader])

    assert torch.equal(order(), perms[0]) and loader.epoch == 0
    assert torch.equal(order(), perms[1]) and loader.epoch == 1
    loader.set_epoch(0)
    assert torch.equal(order(), perms[0])
    loader.set_epoch(3)
    loader.set_epoch(3)  # idempotent
    assert torch.equal(order(), perms[3])
    next(iter(loader))  # an abandoned iteration still counts as epoch 4
    assert loader.epoch == 4 and torch.equal(order(), torch.from_numpy(loader.sampler.permutation(5)))
    for _ in range(2):  # the DistributedSampler idiom pins the epoch too, repeatedly
        loader.sampler.set_epoch(1)
        assert torch.equal(order(), perms[1]) and loader.epoch == 1


@pytest.mark.parametrize("stop_after, workers_before, workers_after", [
    (1, 0, 2),    # resume mid-epoch in a loader with a different worker count
    (2, 2, 0),
    (3, 0, 0),    # epoch finished: resume starts the next epoch
])
def test_resume_from_state_dict(tree, stop_after, workers_before, workers_after):
    ds = _ds(tree)
    full = _epochs(make_loader(ds, batch_size=4, seed=8, num_workers=0, return_indices=True), 2)
    flat = full[0] + full[1]
    first = make_loader(ds, batch_size=4, seed=8, num_workers=workers_before, return_indices=True)
    it = iter(first)
    for _ in range(stop_after):
        next(it)
    state = first.state_dict()
    assert state["epoch"] == 0 and state["batches_seen"] == stop_after
    resumed = make_loader(ds, batch_size=4, seed=None, num_workers=workers_after,
                          return_indices=True)
    resumed.load_state_dict(state)  # adopts the saved shuffle seed
    rest = [tuple(t.clone() for t in b) for b in resumed] + [tuple(b) for b in resumed]
    _assert_same(rest[: len(flat) - stop_after], flat[stop_after:])


def test_load_state_dict_checks(tree):
    loader = make_loader(_ds(tree), batch_size=4, seed=1, num_workers=0)
    state = loader.state_dict()
    with pytest.raises(ValueError, match="missing keys"):
        loader.load_state_dict({"epoch": 0})
    with pytest.raises(ValueError, match="batch_size=8, this loader has batch_size=4"):
        loader.load_state_dict({**state, "batch_size": 8})


def test_no_global_rng_is_touched(tree):
    """numpy's and Python's states never; torch's only to resolve seed=None at construction
    (as DataLoader; tests/test_torch_habits.py), never while iterating."""
    np_state, py_state = np.random.get_state(), random.getstate()
    a = make_loader(_ds(tree), batch_size=4, num_workers=0, return_indices=True)
    b = make_loader(_ds(tree), batch_size=4, num_workers=0, return_indices=True)
    torch_state = torch.get_rng_state()
    for _ in range(2):
        list(a)
    assert a.seed != b.seed  # seed=None: a fresh seed per loader
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    assert torch.equal(torch.get_rng_state(), torch_state) and random.getstate() == py_state


@pytest.mark.parametrize("augment_on, workers", [("device", 0), ("worker", 2)])
def test_real_augment_batches_equal_items(tree, augment_on, workers):
    """kt.Augment (rotation, shift, zoom, flips, brightness; §A10/§A11 kernels) batched in the
    loader equals ``ds[i]`` of the same epoch, with the draws done per sample index."""
    from kdir_torch.augment import Augment

    aug = Augment(rotation_range=25, width_shift_range=0.2, zoom_range=0.2,
                  horizontal_flip=True, brightness_range=(0.5, 1.5), seed=3)
    ds = kt.KerasDirDataset(tree, target_size=(6, 5), class_mode="categorical", verbose=False,
                            augment=aug)
    loader = make_loader(ds, batch_size=4, seed=2, num_workers=workers, augment_on=augment_on,
                         return_indices=True)
    for epoch in range(2):
        for x, y, idx in loader:
            want_x, want_y = stacked_items(ds, idx, epoch)
            assert torch.equal(x, want_x) and torch.equal(y, want_y)
