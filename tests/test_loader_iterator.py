"""``LoaderIterator`` (kdir_torch/keras/iterator.py): in-order ``it[i]`` served by one loader
pass, and batch positions kept when the loader leaves a whole batch out (keras-semantics §A6)."""

from __future__ import annotations

import os
from contextlib import nullcontext

import numpy as np
import pytest
import torch
from _trees import corrupt, indexed_tree

import kdir_torch as kt

RNG = np.random.default_rng(0)
X = RNG.integers(0, 256, (10, 4, 5, 3)).astype(np.uint8)
Y = np.arange(10) % 3


def test_in_order_items_stream_from_the_loader():
    """With workers, it[0], it[1], ... come from one loader pass; any it[i] is the same batch."""
    gen = kt.ImageDataGenerator(rotation_range=30)
    a = gen.flow(X, Y, batch_size=3, seed=1, num_workers=2)
    b = gen.flow(X, Y, batch_size=3, seed=1)
    got = [a[0], a[1]]
    assert a.loader.running  # a pass of the loader serves the in-order requests
    got += [a[3], a[2]]  # out of order: loaded in this process
    want = [b[0], b[1], b[3], b[2]]
    for p, q in zip(got, want):
        assert torch.equal(p[0], q[0]) and torch.equal(p[1], q[1])
    a.on_epoch_end()  # a new epoch ends the pass
    assert not a.loader.running and a.total_batches_seen == 4


@pytest.mark.parametrize("workers", [0, 2])
def test_a_batch_left_out_keeps_positions(tmp_path, workers):
    """on_error="skip" with every file of batch 1 bad: batch 1 is empty, batch 2 is batch 2."""
    root = indexed_tree(tmp_path / "root", {"a": 3, "b": 3})
    for name in ("a/002.png", "b/000.png"):  # files 2 and 3: batch 1 with batch_size=2
        corrupt(os.path.join(root, name))
    it = kt.ImageDataGenerator().flow_from_directory(
        root, target_size=(6, 5), batch_size=2, shuffle=False, on_error="skip",
        num_workers=workers)
    sizes = [next(it)[0].shape[0] for _ in range(2)]
    with pytest.warns(UserWarning, match="Skipped 2 image"):  # at the end of the epoch
        sizes.append(next(it)[0].shape[0])
    # in order with workers: another loader pass over the epoch (which warns again)
    again = pytest.warns(UserWarning, match="Skipped 2 image") if workers else nullcontext()
    with again:
        firsts = [it[i][0][:, 0, 0, 0].tolist() for i in range(3)]
    assert sizes == [2, 0, 2] and it.batch_index == 0
    assert firsts == [[0.0, 1.0], [], [4.0, 5.0]]
