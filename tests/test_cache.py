"""The decoded cache in memory (kdir_torch/cache/): bit-identical pixels, one shared copy that
loader workers fill (fork and spawn), no file opened once cached, budget, bad files, errors.
Disk caches, the modern dataset and the facades: ``test_cache_disk.py``."""

from __future__ import annotations

import copy
import os
import pickle
import shutil
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset

import kdir_torch as kt
from _trees import corrupt, indexed_tree
from imagetree import write_image

SIZE = (7, 9)
N = 10


@pytest.fixture
def tree(tmp_path):
    return indexed_tree(tmp_path / "tree", {"a": 6, "b": 4}, size=(11, 13))


def _ds(tree, **kw):
    kw.setdefault("target_size", SIZE)
    return kt.KerasDirDataset(tree, verbose=False, **kw)


def _epoch(loader):
    return [tuple(t.clone() for t in batch) for batch in loader]


def _same(a, b):
    return len(a) == len(b) and all(
        all(torch.equal(x, y) and x.dtype == y.dtype for x, y in zip(p, q)) for p, q in zip(a, b))


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
@pytest.mark.parametrize("color_mode", ["rgb", "rgba", "grayscale"])
def test_cached_pixels_equal_uncached_bit_for_bit(tree, data_format, color_mode):
    kw = dict(data_format=data_format, color_mode=color_mode, interpolation="bilinear")
    ref, ds = _ds(tree, **kw), _ds(tree, cache="memory", **kw)
    assert ds.cache_info().filled == 0
    for _ in range(2):  # fill, then read back
        for i in range(N):
            a, b = ref.load_raw(i), ds.load_raw(i)
            assert a.dtype == b.dtype and a.stride() == b.stride() and torch.equal(a, b)
            assert torch.equal(ref[i][0], ds[i][0]) and torch.equal(ref[i][1], ds[i][1])
        assert ds.cache_info().filled == N


def test_returned_tensors_are_copies(tree):
    ds = _ds(tree, cache="memory")
    ds.load_raw(0).zero_()  # filling call
    ds.load_raw(0).zero_()  # cached call
    assert torch.equal(ds.load_raw(0), _ds(tree).load_raw(0))


def test_make_loader_workers_fill_one_shared_copy_and_epoch_two_opens_no_file(tree):
    ref = _epoch(kt.make_loader(_ds(tree), batch_size=3, shuffle=False))
    ds = _ds(tree, cache="memory")
    loader = kt.make_loader(ds, batch_size=3, shuffle=False, num_workers=2)
    assert _same(_epoch(loader), ref)
    assert ds.cache_info().filled == N  # the workers' writes, seen by the main process
    shutil.rmtree(tree)  # any file opened now would raise
    assert _same(_epoch(loader), ref)
    assert _same(_epoch(kt.make_loader(ds, batch_size=4, shuffle=False, num_workers=2)),
                 _epoch(kt.make_loader(ds, batch_size=4, shuffle=False)))


@pytest.mark.parametrize("context", [None, "spawn"])
def test_plain_dataloader_workers_share_the_cache(tree, context):
    ds = _ds(tree, cache="memory")
    ref = [x for x, _ in DataLoader(_ds(tree), batch_size=4)]
    loader = DataLoader(ds, batch_size=4, num_workers=1 if context else 2,
                        multiprocessing_context=context, persistent_workers=True)
    assert all(torch.equal(a, b) for a, b in zip(ref, [x for x, _ in loader]))
    assert ds.cache_info().filled == N
    shutil.rmtree(tree)
    assert all(torch.equal(a, b) for a, b in zip(ref, [x for x, _ in loader]))


def test_fill_cache_with_workers(tree):
    ds = _ds(tree, cache="memory")
    assert ds.fill_cache(num_workers=2, verbose=False) == N
    assert ds.cache_info().filled == N
    assert ds.fill_cache(num_workers=2, verbose=False) == 0  # nothing left to decode
    shutil.rmtree(tree)
    assert torch.equal(ds[3][0][0], torch.full(SIZE, 3.0))  # channel 0 encodes the index


def test_budget_caches_the_first_samples_and_warns_once(tree):
    slot = 3 * SIZE[0] * SIZE[1]
    with pytest.warns(UserWarning) as caught:
        ds = _ds(tree, cache="memory", cache_bytes=4 * slot + 5)
    assert len(caught) == 1
    text = str(caught[0].message)
    assert "first 4 of 10 samples" in text and f"{N * slot} bytes" in text, text
    assert f"cache_bytes={4 * slot + 5}" in text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = _ds(tree)
        assert all(torch.equal(ds.load_raw(i), ref.load_raw(i)) for i in range(N))
    info = ds.cache_info()
    assert (info.slots, info.filled) == (4, 4)
    corrupt(ref.filepaths[2])
    corrupt(ref.filepaths[7])
    ds.load_raw(2)  # cached
    with pytest.raises(kt.ImageDecodeError):
        ds.load_raw(7)  # beyond the budget: decoded every time


def test_default_budget_fits_a_small_dataset(tree):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _ds(tree, cache="memory").cache_info().slots == N


def test_bad_files_are_never_cached(tree):
    bad = _ds(tree).filepaths[4]
    corrupt(bad)
    ds = _ds(tree, cache="memory", on_error="skip")
    loader = kt.make_loader(ds, batch_size=4, shuffle=False, num_workers=2)
    for _ in range(2):
        with pytest.warns(UserWarning, match="Skipped 1 image"):
            xs = torch.cat([x for x, _ in loader])
        assert xs[:, 0, 0, 0].tolist() == [0, 1, 2, 3, 5, 6, 7, 8, 9]
        assert loader.skipped == [(4, bad)]
    assert ds.cache_info().filled == N - 1
    strict = _ds(tree, cache="memory")
    for _ in range(2):
        with pytest.raises(kt.ImageDecodeError, match="sample 4 .*" + os.path.basename(bad)):
            list(kt.make_loader(strict, batch_size=4, shuffle=False, num_workers=2))


def test_fill_cache_follows_on_error(tree):
    bad = _ds(tree).filepaths[4]
    corrupt(bad)
    with pytest.raises(kt.ImageDecodeError, match=os.path.basename(bad)):
        _ds(tree, cache="memory").fill_cache(num_workers=0, verbose=False)
    skipping = _ds(tree, cache="memory", on_error="skip")
    with pytest.warns(UserWarning, match="1 file.*not cached"):
        skipping.fill_cache(num_workers=0, verbose=False)
    assert skipping.cache_info().filled == N - 1


def test_wide_grayscale_files_stay_uncached_and_exact(tmp_path):
    write_image(str(tmp_path / "t/a/0.png"), mode="I;16")
    write_image(str(tmp_path / "t/a/1.png"), mode="L")
    kw = dict(color_mode="grayscale", target_size=(12, 16))
    ds, ref = _ds(str(tmp_path / "t"), cache="memory", **kw), _ds(str(tmp_path / "t"), **kw)
    for _ in range(2):
        for i in range(2):
            a, b = ref.load_raw(i), ds.load_raw(i)
            assert a.dtype == b.dtype and torch.equal(a, b)
    assert ds.load_raw(0).dtype == torch.int32 and ds.cache_info().filled == 1


def test_parts_and_subsets_read_their_own_rows(tree):
    ds, ref = _ds(tree, cache="memory"), _ds(tree)
    ds.fill_cache(num_workers=0, verbose=False)
    parts = kt.split(ds, [0.5], seed=1)
    ref_parts = kt.split(ref, [0.5], seed=1)
    shutil.rmtree(tree)
    for part, rp in zip(parts, ref_parts):
        got = torch.stack([part.load_raw(i) for i in range(len(part))])
        assert torch.equal(got[:, 0, 0, 0].long(), torch.tensor(rp.parent_indices))
        inner = kt.split(part, [0.5], seed=2)[1]  # a part of a part
        assert torch.equal(inner.load_raw(0), ds.load_raw(int(part.parent_indices[
            inner.parent_indices[0]])))
    sub = Subset(ds, [9, 2, 5])
    xs = torch.cat([x for x, _ in kt.make_loader(sub, batch_size=2, shuffle=False,
                                                  num_workers=0)])
    assert xs[:, 0, 0, 0].tolist() == [9, 2, 5]


def test_concat_drops_the_caches_with_a_warning(tree, tmp_path):
    other = indexed_tree(tmp_path / "other", {"a": 2}, size=(11, 13))
    with pytest.warns(UserWarning, match="decoded caches"):
        both = kt.concat([_ds(tree, cache="memory"), _ds(other, cache="memory")])
    assert both.cache_info() is None and both.load_raw(N).shape == (3, *SIZE)


def test_plain_pickle_and_deepcopy_get_a_new_empty_cache(tree):
    ds = _ds(tree, cache="memory")
    ds.fill_cache(num_workers=0, verbose=False)
    for clone in (pickle.loads(pickle.dumps(ds)), copy.deepcopy(ds)):
        assert clone.cache_info().filled == 0
        assert torch.equal(clone.load_raw(1), ds.load_raw(1))
    assert ds.cache_info().filled == N


@pytest.mark.parametrize("kwargs, error, text", [
    (dict(cache="ram"), ValueError,
     r"`cache` must be one of \{None, 'memory', 'disk'\}. Received: cache='ram'"),
    (dict(cache=True), ValueError, r"Received: cache=True"),
    (dict(cache="disk"), ValueError, r"`cache_dir` is required with cache='disk'"),
    (dict(cache="memory", cache_dir="x"), ValueError, r"`cache_dir` is only used with "),
    (dict(cache_bytes=10), ValueError, r"`cache_bytes` is only used with"),
    (dict(cache="memory", cache_bytes=-1), ValueError, r"`cache_bytes` must be >= 0"),
    (dict(cache="memory", cache_bytes=1.5), TypeError, r"`cache_bytes` must be an int"),
    (dict(cache="memory", target_size=None), ValueError,
     r"needs images of one size: pass a `target_size`. Received: target_size=None"),
])
def test_bad_cache_arguments(tmp_path, kwargs, error, text):
    with pytest.raises(error, match=text):
        kt.KerasDirDataset(tmp_path / "missing", verbose=False, **kwargs)  # before any listing


def test_fill_cache_needs_a_cache(tree):
    with pytest.raises(ValueError, match="no decoded cache"):
        _ds(tree).fill_cache()
    assert _ds(tree).cache_info() is None
    assert np.array_equal(_ds(tree, cache="memory").classes, _ds(tree).classes)
