"""Memory the CPU loader reuses (``loader/buffers.py``): it must never hand out or overwrite
memory a caller still holds, and batches stay equal to stacked ``ds[i]`` (keras-semantics §A7)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

import kdir_torch as kt
from _trees import indexed_tree, stacked_items
from kdir_torch.datasets.base import convert
from kdir_torch.keras.modern import image_dataset_from_directory
from kdir_torch.loader import make_loader
from kdir_torch.loader.buffers import BufferPool

COUNTS = {"a": 4, "b": 3, "c": 3}  # 10 samples


@pytest.fixture
def tree(tmp_path):
    return indexed_tree(tmp_path / "root", COUNTS)


def test_pool_reuses_a_buffer_only_once_nothing_refers_to_it():
    pool = BufferPool(per_shape=2)
    a = pool.empty((2, 3))
    first = a.data_ptr()
    del a
    b = pool.empty((2, 3))
    assert b.data_ptr() == first  # released: handed out again
    c = pool.empty((2, 3))
    assert c.data_ptr() != first  # b is held: a second buffer
    d = pool.empty((2, 3))  # both held and the cap reached: a fresh, unpooled tensor
    assert d.data_ptr() not in (b.data_ptr(), c.data_ptr())
    del d
    keep = {"view": b[1:], "numpy": c.numpy()}  # views and numpy arrays keep buffers held
    del b, c
    e = pool.empty((2, 3))
    assert e.data_ptr() not in (first, keep["numpy"].ctypes.data)
    del e, keep["view"]
    assert pool.empty((2, 3)).data_ptr() == first
    storage = pool.empty((2, 3)).untyped_storage()  # so does a storage
    assert pool.empty((2, 3)).data_ptr() != storage.data_ptr()


def test_pool_keys_by_shape_and_dtype_and_leaves_other_devices_alone():
    pool = BufferPool()
    x = pool.empty((4,), torch.float32)
    y = pool.empty((4,), torch.uint8)
    z = pool.empty((2, 2), torch.float32)
    assert (x.dtype, y.dtype, z.shape) == (torch.float32, torch.uint8, (2, 2))
    assert len({x.data_ptr(), y.data_ptr(), z.data_ptr()}) == 3
    assert pool.empty((3,), torch.bfloat16).dtype == torch.bfloat16  # no numpy twin: plain


@pytest.mark.parametrize("src", [torch.uint8, torch.int32])
@pytest.mark.parametrize("dst", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_convert_equals_torch_cast(src, dst):
    hi = 256 if src == torch.uint8 else 2**31 - 1
    raw = torch.randint(0, hi, (2, 3, 4, 5), dtype=src, generator=torch.Generator().manual_seed(0))
    if src == torch.int32:
        raw.view(-1)[:3] = torch.tensor([2**24 + 1, 65535, 2**31 - 1])  # rounding cases
    got = convert(raw, dst)
    assert got.dtype == dst and torch.equal(got, raw.to(dst))
    assert torch.equal(convert(raw.permute(0, 2, 3, 1), dst), raw.permute(0, 2, 3, 1).to(dst))


def _legacy(tree, **kw):
    return kt.KerasDirDataset(tree, target_size=(6, 5), verbose=False, **kw)


def _modern_uint8(tree):
    # interpolation="nearest" without augmentation yields uint8 batches: the loader's output
    # would be the shared slot itself unless it copies it out.
    return image_dataset_from_directory(tree, image_size=(6, 5), interpolation="nearest",
                                        data_format="channels_first", shuffle=False,
                                        verbose=False).dataset


@pytest.mark.parametrize("make", [
    lambda t: _legacy(t),
    lambda t: _legacy(t, data_format="channels_last", class_mode="sparse"),
    _modern_uint8,
])
def test_batches_kept_by_the_caller_are_never_overwritten(tree, make):
    ds = make(tree)
    loader = make_loader(ds, batch_size=1, num_workers=2, seed=4, return_indices=True)
    assert loader._dataloader.dataset.slots is not None  # the shared ring is in use here
    kept = [(epoch, batch) for epoch in range(3) for batch in loader]  # 30 batches, 5 slots
    for epoch, (*out, idx) in kept:
        want = stacked_items(make(tree), idx, epoch)
        for got, exp in zip(out, want if isinstance(want, tuple) else (want,)):
            assert got.dtype == exp.dtype and torch.equal(got, exp)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("pin", [True, False])
@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_cuda_target_copies_every_slot_out_before_reuse(tree, pin, data_format):
    """A CUDA target reads the ring too: each slot is copied (pinned or pageable) to the device
    before the workers may write it again, so 30 batches through 5 slots all stay intact."""
    ds = _legacy(tree, data_format=data_format)
    loader = make_loader(ds, batch_size=1, num_workers=2, seed=4, device="cuda",
                         pin_memory=pin, return_indices=True)
    assert loader._dataloader.dataset.slots is not None
    kept = []
    for epoch in range(3):
        for x, y, idx in loader:
            torch.cuda._sleep(200_000)  # a busy consumer stream while the next batch is copied
            kept.append((epoch, x, y, idx))
    torch.cuda.synchronize()
    for epoch, x, y, idx in kept:
        want_x, want_y = stacked_items(_legacy(tree, data_format=data_format), idx.cpu(), epoch)
        assert x.is_cuda and torch.equal(x.cpu(), want_x) and torch.equal(y.cpu(), want_y)


def test_images_that_do_not_fit_the_ring_take_the_plain_path(tmp_path):
    """16-bit grayscale decodes to int32 (§A8.2), which the uint8 ring cannot hold."""
    root = str(tmp_path / "r")
    for k in range(3):
        os.makedirs(os.path.join(root, "a"), exist_ok=True)
        pixels = np.full((4, 3), 1000 * (k + 1), dtype=np.uint16)
        Image.fromarray(pixels).save(os.path.join(root, "a", f"{k}.png"))
    ds = kt.KerasDirDataset(root, target_size=(4, 3), color_mode="grayscale",
                            class_mode=None, verbose=False)
    loader = make_loader(ds, batch_size=2, shuffle=False, num_workers=1)
    assert loader._dataloader.dataset.slots is not None
    x = torch.cat(list(loader))
    assert x[:, 0, 0, 0].tolist() == [1000.0, 2000.0, 3000.0]


def test_no_ring_for_images_of_varying_size(tree):
    ds = kt.KerasDirDataset(tree, target_size=None, verbose=False)
    loader = make_loader(ds, batch_size=2, num_workers=1)
    assert loader._dataloader.dataset.slots is None
    assert sum(x.shape[0] for x, _ in loader) == 10


class _PlainProtocol:
    """A dataset with the loader protocol's minimal ``finish_batch`` signature (no ``empty``)."""

    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def load_raw(self, i):
        return self.base.load_raw(i)

    def finish_batch(self, raw, indices, *, epoch=None):
        return self.base.finish_batch(raw, indices, epoch=epoch)


def test_datasets_without_an_allocator_argument_still_work(tree):
    ds = _legacy(tree, class_mode=None)
    x = torch.cat(list(make_loader(_PlainProtocol(ds), batch_size=4, shuffle=False,
                                   num_workers=0)))
    assert x[:, 0, 0, 0].tolist() == list(range(10))
