"""Balanced epochs (loader/balanced.py), any sampler (loader/user_sampler.py), Subsets in
make_loader, and ``kt.class_weights``. Property tests drive the samplers directly (no disk);
the loader tests use a real tree whose pixels encode each file's position."""

from __future__ import annotations

import math
from collections import Counter
from itertools import combinations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.utils.data import DistributedSampler, Subset, WeightedRandomSampler

import kdir_torch as kt
from _trees import CounterAugment, indexed_tree, stacked_items
from kdir_torch.loader.balanced import BalancedSampler
from kdir_torch.loader.user_sampler import UserSampler

counts_st = st.lists(st.integers(0, 30), min_size=1, max_size=5)


def _classes(counts, seed=0):
    cls = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(cls)


def _shards(make, replicas, epoch):
    return [make(r).local_indices(epoch).tolist() for r in range(replicas)]


@settings(max_examples=120, deadline=None)
@given(counts=counts_st, cap=st.integers(1, 12), seed=st.integers(0, 2**40),
       shuffle=st.booleans(), replicas=st.integers(1, 4))
def test_cap_per_class_properties(counts, cap, seed, shuffle, replicas):
    cls = _classes(counts, seed % 7)

    def make(rank):
        return BalancedSampler(cls, max_per_class=cap, shuffle=shuffle, seed=seed,
                               num_replicas=replicas, rank=rank)

    whole = make(0)
    m = sum(min(c, cap) for c in counts)
    assert len(whole.permutation(0)) == m and len(whole) == math.ceil(m / replicas)
    for epoch in range(3):
        order = whole.permutation(epoch)
        assert len(set(order.tolist())) == m  # no sample twice in an epoch
        got = np.bincount(cls[order], minlength=len(counts)) if m else np.zeros(len(counts))
        assert got.tolist() == [min(c, cap) for c in counts]  # exactly min(n_c, cap) per class
        if not shuffle:
            assert np.all(np.diff(order) > 0)  # dataset order
        assert np.array_equal(order, make(0).permutation(epoch))  # a pure function of the seed
        shards = _shards(make, replicas, epoch)
        assert {len(s) for s in shards} == {len(whole)}
        interleaved = [i for group in zip(*shards) for i in group]
        assert interleaved[:m] == order.tolist()  # rank r takes r, r + R, ... (sampler.py)
        pad = len(interleaved) - m  # padding: the head of the epoch (repeated if m < pad)
        assert interleaved[m:] == (order.tolist() * replicas)[:pad]
        if m >= replicas:  # shards disjoint but for the padding repeats
            for a, b in combinations(range(replicas), 2):
                assert len(set(shards[a]) & set(shards[b])) <= pad


@settings(max_examples=40, deadline=None)
@given(n=st.integers(8, 40), cap=st.integers(2, 6), seed=st.integers(0, 2**40))
def test_cap_redraws_every_epoch(n, cap, seed):
    assume(math.comb(n, cap) >= 20)
    sampler = BalancedSampler(np.zeros(n, np.int64), max_per_class=cap, shuffle=False, seed=seed)
    picks = {tuple(sampler.permutation(e).tolist()) for e in range(8)}
    assert len(picks) > 1  # all 8 equal would have probability <= 20**-7


@settings(max_examples=80, deadline=None)
@given(counts=counts_st, cap=st.one_of(st.none(), st.integers(1, 40)),
       balance=st.sampled_from(["oversample", "undersample"]), seed=st.integers(0, 2**40))
def test_full_balance_properties(counts, cap, balance, seed):
    cls = _classes(counts)
    present = [c for c in counts if c]
    assume(present)
    level = max(present) if balance == "oversample" else min(present)
    target = level if cap is None else min(level, cap)
    order = BalancedSampler(cls, max_per_class=cap, balance=balance, seed=seed).permutation(2)
    per_class = np.bincount(cls[order], minlength=len(counts))
    assert per_class.tolist() == [target if c else 0 for c in counts]
    for c, n_c in enumerate(counts):  # repeats as even as possible
        if n_c:
            times = Counter(i for i in order.tolist() if cls[i] == c)
            drawn = [times.get(i, 0) for i in np.flatnonzero(cls == c)]
            assert max(drawn) - min(drawn) <= 1


# -- the loader ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return indexed_tree(tmp_path_factory.mktemp("bal") / "root", {"a": 12, "b": 3, "c": 1})


def legacy(root, **kw):
    return kt.KerasDirDataset(root, target_size=(6, 5), class_mode="sparse", verbose=False,
                              **kw)


def epoch_indices(loader):
    return [i for *_, idx in loader for i in idx.tolist()]


@pytest.mark.parametrize("batch_size, drop_last", [(4, False), (4, True), (5, False), (16, True)])
def test_len_is_exact(tree, batch_size, drop_last):
    ds = legacy(tree)
    for kw, m in (({"max_per_class": 4}, 4 + 3 + 1), ({"balance": "undersample"}, 3),
                  ({"balance": "oversample"}, 36),
                  ({"balance": "oversample", "max_per_class": 5}, 15)):
        loader = kt.make_loader(ds, batch_size=batch_size, drop_last=drop_last, num_workers=0,
                                seed=0, return_indices=True, **kw)
        want = m // batch_size if drop_last else math.ceil(m / batch_size)
        assert len(loader) == want and sum(1 for _ in loader) == want
        assert len(epoch_indices(loader)) == (want * batch_size if drop_last else m)


def test_capped_epochs_through_workers(tree):
    ds = legacy(tree, augment=CounterAugment(seed=2))
    loaders = [kt.make_loader(ds, batch_size=3, num_workers=w, seed=11, max_per_class=4,
                              return_indices=True) for w in (0, 2)]
    epochs = []
    for epoch in range(3):
        runs = []
        for loader in loaders:
            batches = list(loader)
            runs.append(batches)
            for x, y, idx in batches:  # pixels, labels and draws equal the items
                ex, ey = stacked_items(ds, idx.tolist(), epoch=epoch)
                assert torch.equal(x, ex) and torch.equal(y, ey)
        idx0 = [i for *_, idx in runs[0] for i in idx.tolist()]
        assert idx0 == [i for *_, idx in runs[1] for i in idx.tolist()]  # any worker count
        assert np.bincount(ds.classes[idx0]).tolist() == [4, 3, 1]
        epochs.append(idx0)
    assert len({tuple(sorted(e)) for e in epochs}) > 1  # redrawn (C(12, 4) choices)


def test_capped_loader_resumes_mid_epoch(tree):
    ds = legacy(tree)
    loader = kt.make_loader(ds, batch_size=2, num_workers=0, seed=5, max_per_class=3,
                            return_indices=True)
    first = epoch_indices(loader)
    it = iter(loader)
    head = [i for _ in range(2) for i in next(it)[-1].tolist()]
    state = loader.state_dict()
    it.close()
    again = kt.make_loader(ds, batch_size=2, num_workers=0, seed=123, max_per_class=3,
                           return_indices=True)
    again.load_state_dict(state)
    rest = epoch_indices(again)
    second = kt.make_loader(ds, batch_size=2, num_workers=0, seed=5, max_per_class=3,
                            return_indices=True)
    second.set_epoch(1)
    assert head + rest == epoch_indices(second) and first != head + rest


def test_shuffle_false_keeps_dataset_order(tree):
    ds = legacy(tree)
    loader = kt.make_loader(ds, batch_size=4, num_workers=0, shuffle=False, seed=1,
                            balance="oversample", return_indices=True)
    order = epoch_indices(loader)
    assert order == sorted(order) and Counter(ds.classes[order].tolist()) == {0: 12, 1: 12, 2: 12}
    assert Counter(order)[15] == 12  # the single "c" sample, 12 times


def test_balance_errors(tree):
    ds = legacy(tree)
    with pytest.raises(ValueError, match="`balance` must be one of"):
        kt.make_loader(ds, balance="smote", num_workers=0)
    with pytest.raises(ValueError, match="`max_per_class` must be >= 1"):
        kt.make_loader(ds, max_per_class=0, num_workers=0)
    with pytest.raises(TypeError, match="`max_per_class` must be an integer"):
        kt.make_loader(ds, max_per_class="3", num_workers=0)
    with pytest.raises(ValueError, match="pass one of them"):
        kt.make_loader(ds, max_per_class=3, sampler=range(3), num_workers=0)
    unlabelled = kt.ModernDirDataset(["/x/1.png"], None, image_size=(4, 4))
    with pytest.raises(ValueError, match="needs the class of every sample"):
        kt.make_loader(unlabelled, max_per_class=1, num_workers=0)


# -- any sampler ----------------------------------------------------------------------------------

def test_weighted_sampler_is_seeded_and_leaves_global_state(tree):
    ds = legacy(tree)
    weights = torch.from_numpy(1.0 / np.bincount(ds.classes)[ds.classes])
    user_gen = torch.Generator().manual_seed(99)
    wrs = WeightedRandomSampler(weights, num_samples=20, generator=user_gen)
    state = torch.random.get_rng_state()
    runs = []
    for workers in (0, 2):
        loader = kt.make_loader(ds, sampler=wrs, batch_size=6, num_workers=workers, seed=3,
                                return_indices=True)
        assert len(loader) == 4
        runs.append([epoch_indices(loader), epoch_indices(loader)])
    assert runs[0] == runs[1] and runs[0][0] != runs[0][1] and len(runs[0][0]) == 20
    assert torch.equal(torch.random.get_rng_state(), state)  # global RNG untouched
    assert wrs.generator is user_gen  # the caller's generator is put back
    other = kt.make_loader(ds, sampler=wrs, batch_size=6, num_workers=0, seed=4,
                           return_indices=True)
    assert epoch_indices(other) != runs[0][0]


def test_sampler_without_generator_uses_forked_global_rng(tree):
    class GlobalRng(torch.utils.data.Sampler):
        def __init__(self, n):
            self.n, self.epochs = n, []

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

        def __len__(self):
            return self.n

        def __iter__(self):
            return iter(torch.randint(0, 16, (self.n,)).tolist())

    ds = legacy(tree)
    sampler = GlobalRng(9)
    a = [epoch_indices(kt.make_loader(ds, sampler=sampler, batch_size=4, num_workers=0, seed=8,
                                      return_indices=True)) for _ in range(2)]
    assert a[0] == a[1] and sampler.epochs == [0, 0]


def test_sampler_shards_like_every_epoch():
    order_src = list(range(10))[::-1]
    shards = [UserSampler(order_src + [3], 11, seed=0, num_replicas=3, rank=r).local_indices(0)
              .tolist() for r in range(3)]
    assert shards == [[9, 6, 3, 0], [8, 5, 2, 3], [7, 4, 1, 9]]  # padded by the head
    with pytest.raises(ValueError, match="already shards"):
        UserSampler(DistributedSampler(range(4), num_replicas=2, rank=0), 4, num_replicas=2)


def test_bad_samplers(tree):
    ds = legacy(tree)
    with pytest.raises(TypeError, match="must be a torch.utils.data.Sampler"):
        kt.make_loader(ds, sampler=iter([1, 2]), num_workers=0)
    with pytest.raises(IndexError, match="out of range"):
        epoch_indices(kt.make_loader(ds, sampler=[0, 16], num_workers=0, return_indices=True))

    class Liar(list):
        def __len__(self):
            return 5

    with pytest.raises(ValueError, match="yielded 2 indices"):
        epoch_indices(kt.make_loader(ds, sampler=Liar([0, 1]), num_workers=0,
                                     return_indices=True))


def test_list_sampler_and_subset(tree):
    ds = legacy(tree, augment=CounterAugment(seed=4))
    loader = kt.make_loader(ds, sampler=[5, 5, 1], batch_size=2, num_workers=0,
                            return_indices=True)
    assert epoch_indices(loader) == [5, 5, 1]
    subset = Subset(ds, [15, 3, 12, 0, 7])
    ds.set_epoch(0)
    loader = kt.make_loader(subset, batch_size=2, num_workers=2, shuffle=False, seed=0,
                            return_indices=True)
    assert loader._slots is not None  # uint8 ring transport kept for a Subset
    assert list(loader.dataset.filenames) == [ds.filenames[i] for i in subset.indices]
    for x, y, idx in loader:  # equal to stacking subset[i] (draws keyed by ds's indices)
        items = [subset[i] for i in idx.tolist()]
        assert torch.equal(x, torch.stack([t[0] for t in items]))
        assert torch.equal(y, torch.stack([t[1] for t in items]))
    nested = Subset(Subset(ds, [15, 3, 12]), [2, 0])
    assert kt.make_loader(nested, num_workers=0, shuffle=False).dataset.classes.tolist() == [1, 2]


# -- class weights ------------------------------------------------------------------------------

def test_class_weights_balanced_formula(tree):
    keras_utils = pytest.importorskip("keras.src.trainers.data_adapters.data_adapter_utils")
    ds = legacy(tree)  # counts 12 / 3 / 1
    weights = kt.class_weights(ds)
    assert weights == pytest.approx({0: 16 / (3 * 12), 1: 16 / (3 * 3), 2: 16 / (3 * 1)})
    assert all(type(k) is int and type(v) is float for k, v in weights.items())
    tensor = kt.class_weights(ds, as_tensor=True)
    assert tensor.dtype == torch.float32
    assert tensor.tolist() == pytest.approx(list(weights.values()))
    # Keras turns the dict into per-sample weights that sum to the sample count (balanced)
    sample_w = keras_utils.class_weight_to_sample_weights(ds.classes.astype(np.float32), weights)
    assert sample_w.sum() == pytest.approx(len(ds))
    loss = torch.nn.CrossEntropyLoss(weight=tensor)
    assert torch.isfinite(loss(torch.zeros(4, 3), torch.tensor([0, 1, 2, 0])))


def test_class_weights_of_parts_and_empty_classes(tree):
    ds = legacy(tree, classes=["a", "b", "zz"])
    assert kt.class_weights(ds) == pytest.approx({0: 15 / 24, 1: 15 / 6, 2: 0.0})
    part = kt.split(legacy(tree), [0.5], seed=0)[1]
    counts = np.bincount(part.classes, minlength=3)
    present = int((counts > 0).sum())
    assert present == 2  # the single "c" sample went to the other half
    assert kt.class_weights(part) == pytest.approx(
        {c: len(part) / (present * n) if n else 0.0 for c, n in enumerate(counts)})
    sub = Subset(ds, [0, 1, 12])
    assert kt.class_weights(sub) == pytest.approx({0: 3 / 4, 1: 3 / 2, 2: 0.0})
