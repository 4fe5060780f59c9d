"""The decoded cache on disk (kdir_torch/cache/disk.py, key.py): reuse across datasets and
processes, invalidation by the key, writes only under ``cache_dir``; the modern dataset and
the facades (``flow_from_directory``, ``image_dataset_from_directory``) with either cache."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

import kdir_torch as kt
import kdir_torch.datasets.keras_dir as keras_dir
from _trees import indexed_tree
from kdir_torch.cache.key import cache_key

SIZE = (7, 9)
N = 8


@pytest.fixture
def tree(tmp_path):
    return indexed_tree(tmp_path / "tree", {"a": 5, "b": 3}, size=(11, 13))


def _ds(tree, cache_dir, **kw):
    kw.setdefault("target_size", SIZE)
    return kt.KerasDirDataset(tree, verbose=False, cache="disk", cache_dir=cache_dir, **kw)


def _no_decoding(*args, **kwargs):
    raise AssertionError("a file was decoded")


def _files(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder)
                  for d, _, names in os.walk(folder) for f in names)


def test_second_dataset_and_its_workers_reuse_the_filled_rows(tree, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    first = _ds(tree, cache_dir)
    ref = kt.KerasDirDataset(tree, target_size=SIZE, verbose=False)
    assert first.fill_cache(num_workers=2, verbose=False) == N
    second = _ds(tree, cache_dir)
    assert second.cache_info() == first.cache_info()
    assert second.cache_info().filled == N
    expected = [ref.load_raw(i) for i in range(N)]
    monkeypatch.setattr(keras_dir, "load_array", _no_decoding)  # forked workers inherit it
    assert all(torch.equal(second.load_raw(i), expected[i]) for i in range(N))
    xs = torch.cat([x for x, _ in DataLoader(second, batch_size=3, num_workers=2)])
    assert xs[:, 0, 0, 0].tolist() == list(range(N))
    unpickled = pickle.loads(pickle.dumps(second))  # a disk store travels as its paths
    assert unpickled.cache_info().filled == N and torch.equal(unpickled.load_raw(5), expected[5])


def test_files_live_only_in_cache_dir_and_describe_themselves(tree, tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = _files(tmp_path)
    ds = _ds(tree, tmp_path / "new" / "cache")
    list(kt.make_loader(ds, batch_size=4, num_workers=2))
    added = sorted(set(_files(tmp_path)) - set(before))
    assert all(f.startswith(os.path.join("new", "cache", "kdir-")) for f in added), added
    assert {os.path.splitext(f)[1] for f in added} == {".pixels", ".flags", ".json"}
    assert ds.cache_info().filled == N and ds.cache_info().path.startswith(str(tmp_path / "new"))
    meta = json.load(open(ds.cache_info().path.replace(".pixels", ".json")))
    assert meta["samples"] == N and meta["options"]["target_size"] == list(SIZE)


def test_key_changes_with_mtime_size_and_pixel_options(tree, tmp_path):
    cache_dir = tmp_path / "cache"
    ds = _ds(tree, cache_dir)
    ds.fill_cache(num_workers=0, verbose=False)
    path = ds.cache_info().path
    assert _ds(tree, cache_dir).cache_info().path == path
    for other in (dict(target_size=(5, 5)), dict(color_mode="grayscale"),
                  dict(interpolation="bilinear"), dict(keep_aspect_ratio=True),
                  dict(data_format="channels_last"), dict(jpeg_draft=True)):
        assert _ds(tree, cache_dir, **other).cache_info().path != path, other
    victim = ds.filepaths[3]
    st = os.stat(victim)
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    touched = _ds(tree, cache_dir)
    assert touched.cache_info().path != path and touched.cache_info().filled == 0
    Image.new("RGB", (13, 11), (200, 1, 2)).save(victim)  # new size and pixels
    rewritten = _ds(tree, cache_dir)
    assert rewritten.load_raw(3)[0, 0, 0] == 200
    assert os.path.exists(path)  # old caches are left in place (documented)


def test_key_covers_listing_order_and_option_dict():
    a = cache_key(["x.png", "y.png"], {"target_size": (2, 2)})
    assert a == cache_key(["x.png", "y.png"], {"target_size": (2, 2)})
    assert a != cache_key(["y.png", "x.png"], {"target_size": (2, 2)})
    assert a != cache_key(["x.png", "y.png"], {"target_size": (2, 2), "jpeg_draft": True})


def test_channels_last_disk_cache_is_bit_identical(tree, tmp_path):
    kw = dict(data_format="channels_last", color_mode="rgba")
    ref = kt.KerasDirDataset(tree, target_size=SIZE, verbose=False, **kw)
    for ds in (_ds(tree, tmp_path / "c", **kw), _ds(tree, tmp_path / "c", **kw)):
        for i in range(N):
            a, b = ref.load_raw(i), ds.load_raw(i)
            assert a.stride() == b.stride() and torch.equal(a, b)


def test_budget_limits_what_this_session_fills(tree, tmp_path):
    slot = 3 * SIZE[0] * SIZE[1]
    with pytest.warns(UserWarning, match=r"first 2 of 8 samples"):
        small = _ds(tree, tmp_path / "c", cache_bytes=2 * slot)
    small.fill_cache(num_workers=0, verbose=False)
    assert small.cache_info().filled == 2
    big = _ds(tree, tmp_path / "c")  # same key: reuses the 2 rows, fills the rest
    assert big.fill_cache(num_workers=0, verbose=False) == N - 2


@pytest.mark.parametrize("interpolation, dtype", [("bilinear", torch.float32),
                                                  ("nearest", torch.uint8)])
@pytest.mark.parametrize("cache", ["memory", "disk"])
def test_modern_dataset_caches_its_load_raw_dtype(tree, tmp_path, interpolation, dtype, cache):
    files = kt.KerasDirDataset(tree, verbose=False).filepaths
    kw = dict(image_size=SIZE, interpolation=interpolation, pad_to_aspect_ratio=True)
    ref = kt.ModernDirDataset(files, **kw)
    ds = kt.ModernDirDataset(files, cache=cache,
                             cache_dir=tmp_path / "c" if cache == "disk" else None, **kw)
    for _ in range(2):
        for i in range(N):
            a, b = ref.load_raw(i), ds.load_raw(i)
            assert a.dtype == b.dtype == dtype and torch.equal(a, b)
    assert ds.cache_info().filled == N


def test_image_dataset_from_directory_passes_the_cache(tree, tmp_path):
    kw = dict(image_size=SIZE, batch_size=3, seed=1, validation_split=0.25, subset="both",
              verbose=False)
    ref = kt.image_dataset_from_directory(tree, **kw)
    got = kt.image_dataset_from_directory(tree, cache="disk", cache_dir=tmp_path / "c",
                                          num_workers=2, **kw)
    for r, g in zip(ref, got):
        for (xr, yr), (xg, yg) in zip(r, g):
            assert torch.equal(xr, xg) and torch.equal(yr, yg)
        assert g.dataset.cache_info().filled == len(g.dataset)
    with pytest.raises(ValueError, match="`cache_dir` is required"):
        kt.image_dataset_from_directory(tree, cache="disk")


def test_flow_from_directory_passes_the_cache(tree):
    gen = kt.ImageDataGenerator(rescale=1 / 255)
    kw = dict(target_size=SIZE, batch_size=3, shuffle=False)
    ref = gen.flow_from_directory(tree, **kw)
    it = gen.flow_from_directory(tree, cache="memory", num_workers=2, **kw)
    for k in range(len(it)):
        (xr, yr), (xg, yg) = ref[k], it[k]
        assert torch.equal(xr, xg) and torch.equal(yr, yg)
    assert it.dataset.cache_info().filled == N
    with pytest.raises(ValueError, match="`cache` must be one of"):
        gen.flow_from_directory(tree, cache="gpu")
