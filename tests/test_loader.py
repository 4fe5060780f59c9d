"""make_loader: argument checks, fast path == simple path, bad files, sharding, gather.

The batch pipeline is keras-semantics §A7 (decode, augment, standardize, labels per §A9), batched;
batch slicing follows §A6 (partial last batch, never across the epoch boundary).
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch

import kdir_torch as kt
from _trees import CounterAugment, corrupt, indexed_tree, stacked_items
from kdir_torch.loader import SeededSampler, gather_predictions, make_loader

COUNTS = {"a": 4, "b": 3, "c": 3}  # 10 samples


@pytest.fixture
def tree(tmp_path):
    return indexed_tree(tmp_path / "root", COUNTS)


def _ds(root, **kw):
    kw.setdefault("target_size", (6, 5))
    return kt.KerasDirDataset(root, verbose=False, **kw)


# -- argument validation (DESIGN.md "Errors and bad input") ------------------------------------
@pytest.mark.parametrize("kwargs, exc, text", [
    ({"batch_size": 0}, ValueError, "`batch_size` must be >= 1 (0 is accepted only for an empty "
     "dataset). Received: batch_size=0 for 10 samples"),
    ({"batch_size": 2.0}, TypeError, "`batch_size` must be an integer. Received: batch_size=2.0"),
    ({"batch_size": True}, TypeError, "`batch_size` must be an integer"),
    ({"shuffle": 1}, TypeError, "`shuffle` must be a bool. Received: shuffle=1"),
    ({"num_workers": -1}, ValueError, "`num_workers` must be >= 0. Received: num_workers=-1"),
    ({"num_workers": 0, "persistent_workers": True}, ValueError, "need `num_workers` > 0"),
    ({"num_workers": 0, "prefetch_factor": 2}, ValueError, "need `num_workers` > 0"),
    ({"num_workers": 1, "prefetch_factor": 0}, ValueError, "`prefetch_factor` must be >= 1"),
    ({"pin_memory": "yes"}, TypeError, "`pin_memory` must be a bool or None"),
    ({"device": 3}, TypeError, "`device` must be None, a str or a torch.device"),
    ({"device": "gpu7"}, ValueError, "`device` is not a valid device. Received: device='gpu7'"),
    ({"augment": 5}, TypeError, "`augment` must be None, an Augment"),
    ({"standardize": 5}, TypeError, "`standardize` must be None or a callable"),
    ({"seed": 1.5}, TypeError, "`seed` must be an integer or None. Received: seed=1.5"),
    ({"augment_on": "gpu"}, ValueError, "`augment_on` must be one of ('device', 'worker')"),
    ({"timeout": -1}, ValueError, "`timeout` must be >= 0. Received: timeout=-1"),
    ({"timeout": "5"}, TypeError, "`timeout` must be a number of seconds"),
    ({"distributed": True}, ValueError, "`distributed=True` needs an initialised"),
    ({"distributed": "auto"}, TypeError, "`distributed` must be a bool or None"),
])
def test_argument_checks(tree, kwargs, exc, text):
    with pytest.raises(exc, match=re.escape(text)):
        make_loader(_ds(tree), num_workers=kwargs.pop("num_workers", 0), **kwargs)


def test_dataset_protocol_and_layout_checks(tree):
    with pytest.raises(TypeError, match=r"`dataset` must provide load_raw.*missing \['load_raw'"):
        make_loader([1, 2, 3], num_workers=0)
    ds = _ds(tree, data_format="channels_last")
    with pytest.raises(ValueError, match="already yields \\(B, H, W, C\\)"):
        make_loader(ds, num_workers=0, channels_last=True)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            make_loader(_ds(tree), num_workers=0, device="cuda")


def test_defaults(tree):
    loader = make_loader(_ds(tree), seed=0)
    assert loader.num_workers >= 1 and loader._dataloader.persistent_workers
    assert loader._dataloader.pin_memory is False and loader.device == torch.device("cpu")
    assert loader._fetcher.reader.timeout == 300.0  # per image read, any worker count


# -- fast path == simple path (DESIGN.md rule), §A6 batching, §A9 labels ------------------------
@pytest.mark.parametrize("batch_size, drop_last, sizes", [
    (4, False, [4, 4, 2]),       # §A6: partial last batch
    (4, True, [4, 4]),
    (10, False, [10]),
    (32, False, [10]),           # batch_size > n: one batch with everything
])
def test_batch_sizes(tree, batch_size, drop_last, sizes):
    loader = make_loader(_ds(tree), batch_size=batch_size, drop_last=drop_last, num_workers=0,
                         seed=3)
    got = [x.shape[0] for x, _ in loader]
    assert got == sizes and len(loader) == len(sizes)


@pytest.mark.parametrize("class_mode, data_format, augment, augment_on", [
    ("categorical", "channels_first", None, "device"),
    ("sparse", "channels_last", CounterAugment(7), "device"),
    ("input", "channels_first", CounterAugment(7), "worker"),
    (None, "channels_last", CounterAugment(9), "worker"),
    ("binary", "channels_first", "dataset", "device"),
])
def test_batches_equal_stacked_items(tree, class_mode, data_format, augment, augment_on):
    ds_aug = CounterAugment(3) if augment == "dataset" else None
    ds = _ds(tree, class_mode=class_mode, data_format=data_format, augment=ds_aug)
    loader = make_loader(ds, batch_size=4, num_workers=0, seed=5, augment_on=augment_on,
                         augment=None if augment == "dataset" else augment,
                         return_indices=True)
    ref_ds = _ds(tree, class_mode=class_mode, data_format=data_format,
                 augment=ds_aug if augment == "dataset" else augment)
    for epoch in range(2):
        for batch in loader:
            *out, idx = batch
            want = stacked_items(ref_ds, idx, epoch)
            want = want if isinstance(want, tuple) else (want,)
            assert len(out) == len(want)
            for got, exp in zip(out, want):
                assert got.dtype == exp.dtype and torch.equal(got, exp)
    assert ds.augment is ds_aug  # the override did not touch the user's dataset


def test_class_mode_none_yields_x_and_channels_last_memory(tree):
    ds = _ds(tree, class_mode=None)
    x = next(iter(make_loader(ds, batch_size=3, num_workers=0, channels_last=True)))
    assert isinstance(x, torch.Tensor) and x.shape == (3, 3, 6, 5)
    assert x.is_contiguous(memory_format=torch.channels_last)


def test_standardize_override(tree):
    ds = _ds(tree)
    loader = make_loader(ds, batch_size=10, shuffle=False, num_workers=0,
                         standardize=lambda x: x / 255.0)
    x, _ = next(iter(loader))
    assert torch.equal(x[:, 0, 0, 0], torch.arange(10, dtype=torch.float32) / 255.0)
    assert ds.standardize is None


def test_shuffle_false_follows_filenames(tree):  # §A4 order, Part E.3
    ds = _ds(tree, class_mode="sparse")
    xs, ys = zip(*make_loader(ds, batch_size=3, shuffle=False, num_workers=0))
    x, y = torch.cat(xs), torch.cat(ys)
    assert x[:, 0, 0, 0].tolist() == list(range(10))
    assert y.tolist() == ds.classes.astype(float).tolist()


# -- bad files -----------------------------------------------------------------------------------
def test_bad_file_raises_with_path_and_index(tree):
    corrupt(f"{tree}/b/001.png")  # listing position 5
    for workers in (0, 1):
        loader = make_loader(_ds(tree), batch_size=4, shuffle=False, num_workers=workers)
        with pytest.raises(kt.ImageDecodeError, match="b/001.png") as info:
            list(loader)
        assert info.value.index == 5 and info.value.path.endswith("b/001.png")
    indexed_tree(tree, COUNTS)  # repair the file: the same loader works again
    assert [x.shape[0] for x, _ in loader] == [4, 4, 2]


def test_bad_file_skip_policy(tree):
    corrupt(f"{tree}/b/001.png")  # index 5
    corrupt(f"{tree}/a/000.png")  # index 0
    ds = _ds(tree, class_mode="sparse", on_error="skip")
    loader = make_loader(ds, batch_size=4, shuffle=False, num_workers=1, return_indices=True)
    for _epoch in range(2):
        with pytest.warns(UserWarning, match=r"Skipped 2 image\(s\).*epoch") as rec:
            batches = list(loader)
        assert len([w for w in rec if "Skipped" in str(w.message)]) == 1  # once per epoch
        assert [b[0].shape[0] for b in batches] == [3, 3, 2]  # smaller batches, documented
        for x, y, idx in batches:  # labels stay aligned with the pixels
            assert x[:, 0, 0, 0].tolist() == idx.tolist()
            assert y.tolist() == ds.classes[idx.numpy()].astype(float).tolist()
        assert sorted(i for i, _ in loader.skipped) == [0, 5]


def test_all_samples_of_a_batch_skipped(tree):
    for name in ("000", "001", "002", "003"):
        corrupt(f"{tree}/a/{name}.png")
    loader = make_loader(_ds(tree, on_error="skip"), batch_size=4, shuffle=False, num_workers=0)
    with pytest.warns(UserWarning, match=r"Skipped 4 image"):
        sizes = [x.shape[0] for x, _ in loader]
    assert sizes == [4, 2]  # the empty batch is not yielded


class _SlowDataset:
    """Protocol-complete dataset whose decode takes longer than the loader's timeout."""

    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def load_raw(self, i):
        time.sleep(1.5)
        return self.base.load_raw(i)

    def finish_batch(self, raw, indices, **kw):
        return self.base.finish_batch(raw, indices, **kw)


class _ThreadProbe(_SlowDataset):
    """Writes the worker's torch thread count into the pixels."""

    def load_raw(self, i):
        return torch.full((3, 6, 5), torch.get_num_threads(), dtype=torch.uint8)


def test_workers_run_one_torch_thread(tree):  # DESIGN.md "Performance approach"
    x, _ = next(iter(make_loader(_ThreadProbe(_ds(tree)), batch_size=2, num_workers=1)))
    assert x.unique().tolist() == [1.0]


def test_worker_timeout_fails_instead_of_hanging(tree):
    # Without the timeout this batch would arrive after 1.5 s; with it, the read fails at 0.5 s.
    loader = make_loader(_SlowDataset(_ds(tree)), batch_size=1, num_workers=1, timeout=0.5,
                         persistent_workers=False, shuffle=False)
    start = time.monotonic()
    with pytest.raises(kt.ImageDecodeError, match=r"sample 0 .*timeout=0.5 s") as info:
        next(iter(loader))
    assert info.value.index == 0
    assert time.monotonic() - start < 5.0  # includes joining the sleeping worker


# -- sharding policy (documented in loader/sampler.py) -------------------------------------------
@pytest.mark.parametrize("n, replicas", [(10, 1), (10, 2), (10, 3), (7, 4), (2, 3), (0, 2)])
def test_shards_cover_everything_once_plus_head_padding(n, replicas):
    shards = [SeededSampler(n, seed=4, num_replicas=replicas, rank=r).local_indices(epoch=1)
              for r in range(replicas)]
    perm = SeededSampler(n, seed=4).permutation(epoch=1)
    assert len({len(s) for s in shards}) == 1 and len(shards[0]) == -(-n // replicas)
    flat = np.stack(shards, 1).reshape(-1) if n else np.array([], np.int64)
    assert sorted(set(flat.tolist())) == list(range(n))
    assert flat[:n].tolist() == perm.tolist()  # rank-strided permutation ...
    assert flat[n:].tolist() == np.resize(perm, flat.size - n).tolist()  # ... padded by its head


def test_sampler_checks():
    with pytest.raises(ValueError, match=r"`rank` must be in \[0, 2\). Received: rank=2"):
        SeededSampler(5, num_replicas=2, rank=2)
    with pytest.raises(TypeError, match="`num_samples` must be an integer"):
        SeededSampler(5.0)
    with pytest.raises(ValueError, match="`epoch` must be an integer >= 0"):
        SeededSampler(5).set_epoch(-1)


# -- gather_predictions without a process group --------------------------------------------------
def test_gather_predictions_reorders_and_drops_padding():
    idx = torch.tensor([3, 0, 2, 1, 3, 0])          # 3 and 0 repeated as padding
    out = torch.stack([idx.float() * 10, -idx.float()], 1)
    got = gather_predictions(out, idx, dataset_len=4)
    assert torch.equal(got[:, 0], torch.tensor([0.0, 10, 20, 30]))
    assert got.shape == (4, 2)


@pytest.mark.parametrize("outputs, indices, n, exc, text", [
    (torch.zeros(3), torch.tensor([0, 1]), None, ValueError, "must have the same length"),
    (torch.zeros(2), torch.tensor([0.0, 1.0]), None, TypeError, "1-D integer tensor"),
    ([0, 1], torch.tensor([0, 1]), None, TypeError, "must be torch tensors"),
    (torch.zeros(2), torch.tensor([0, 2]), 3, ValueError, "do not cover the dataset"),
    (torch.zeros(3), torch.tensor([0, 1, 2]), 2, ValueError, "do not cover the dataset"),
])
def test_gather_predictions_checks(outputs, indices, n, exc, text):
    with pytest.raises(exc, match=text):
        gather_predictions(outputs, indices, dataset_len=n)


# -- CUDA (skipped without a GPU; the CPU tests above cover the same code paths) -----------------
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.cuda
@cuda
def test_cuda_prefetch_matches_cpu_and_is_channels_last(tree):
    ds = _ds(tree, augment=CounterAugment(2))
    cpu = list(make_loader(ds, batch_size=4, seed=1, num_workers=0))
    gpu_loader = make_loader(ds, batch_size=4, seed=1, num_workers=1, device="cuda",
                             channels_last=True)
    assert gpu_loader._dataloader.pin_memory and gpu_loader._prefetcher.stream is not None
    for (xc, yc), (xg, yg) in zip(cpu, gpu_loader):
        assert xg.is_cuda and xg.is_contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(xg.cpu(), xc)
        assert torch.equal(yg.cpu(), yc)


@pytest.mark.cuda
@cuda
def test_cuda_record_stream_keeps_batches_valid(tree):
    """Batches stay intact while later batches are produced on the side stream."""
    ds = _ds(tree)
    ref = [x.clone() for x, _ in make_loader(ds, batch_size=2, seed=4, num_workers=0)]
    loader = make_loader(ds, batch_size=2, seed=4, num_workers=0, device="cuda")
    kept = []
    for x, _ in loader:
        torch.cuda._sleep(1_000_000)  # keep the consumer stream busy while the next copy runs
        kept.append(x * 1.0)
    torch.cuda.synchronize()
    for got, want in zip(kept, ref):
        assert torch.equal(got.cpu(), want)


@pytest.mark.cuda
@cuda
def test_cuda_augment_on_worker_equals_device(tree):
    ds = _ds(tree, augment=CounterAugment(5))
    a = list(make_loader(ds, batch_size=4, seed=2, num_workers=1, device="cuda"))
    b = list(make_loader(ds, batch_size=4, seed=2, num_workers=1, device="cuda",
                         augment_on="worker"))
    for (xa, ya), (xb, yb) in zip(a, b):
        torch.testing.assert_close(xa, xb)
        assert torch.equal(ya, yb)
