"""Loader faults: one regression test per defect of the robustness pass (docs/robustness.md).

Every wait is bounded: reads that could block run under ``bounded`` (a daemon thread joined
with a deadline), and slow reads are simulated by patching the decoder to sleep for a file
named ``slow.png`` (inherited by forked workers), so no test can hang.
"""

from __future__ import annotations

import gc
import os
import threading
import time

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

import kdir_torch as kt
from _trees import corrupt, indexed_tree
from kdir_torch.datasets import keras_dir, modern

COUNTS = {"a": 4, "b": 3, "c": 3}  # 10 samples, file k encodes k in channel 0
SLOW_S, TIMEOUT, MARGIN = 4.0, 0.5, 2.5


def _ds(root, **kw):
    kw.setdefault("target_size", (6, 5))
    return kt.KerasDirDataset(root, verbose=False, **kw)


def bounded(fn, seconds=20.0):
    """Run ``fn()`` in a daemon thread; fail (instead of hanging) past ``seconds``."""
    box: list = []

    def run(out):
        try:
            out.append((True, fn()))
        except BaseException as exc:  # handed back to the test
            out.append((False, exc))
            out = None  # no cycle exception -> traceback -> this frame -> out -> exception:
            # a loader kept alive by one would be shut down by the cyclic GC (slowly)

    t = threading.Thread(target=run, args=(box,), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still blocked after {seconds} s"
    ok, value = box.pop()
    if not ok:
        try:
            raise value
        finally:  # no cycle exception -> traceback -> this frame -> value -> exception
            value = None
    return value


@pytest.fixture
def tree(tmp_path):
    return indexed_tree(tmp_path / "root", COUNTS)


@pytest.fixture
def slow_reads(monkeypatch):
    """Make every decode of a file named ``slow.png`` take ``SLOW_S`` seconds."""
    gc.collect()  # finalizers of earlier tests' loaders must not run inside a timed read
    def patch(module, name):
        real = getattr(module, name)

        def slow(path, *args, **kw):
            if os.path.basename(path) == "slow.png":
                time.sleep(SLOW_S)
            return real(path, *args, **kw)
        monkeypatch.setattr(module, name, slow)
    patch(keras_dir, "load_array")
    patch(modern, "load_image")


def _slow_tree(tree):
    """Replace file 5 (b/001.png) by a copy named slow.png (it lists last in class b)."""
    os.replace(f"{tree}/b/001.png", f"{tree}/b/slow.png")
    return f"{tree}/b/slow.png"


# 1 -----------------------------------------------------------------------------------------
def test_mixed_bit_depths_survive_workers(tmp_path):
    root = tmp_path / "gray"
    (root / "a").mkdir(parents=True)
    Image.fromarray(np.full((4, 4), 7, np.uint8)).save(root / "a" / "0.png")
    Image.fromarray(np.full((4, 4), 40000, np.uint16)).save(root / "a" / "1.png")
    ds = _ds(root, color_mode="grayscale", target_size=(4, 4))
    runs = [[x for x, _ in kt.make_loader(ds, batch_size=2, shuffle=False, num_workers=w)]
            for w in (0, 2)]
    assert runs[0][0][:, 0, 0, 0].tolist() == [7.0, 40000.0]  # the first image is 8-bit
    assert torch.equal(runs[0][0], runs[1][0])


# 2 -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [0, 2])
def test_second_iter_during_an_epoch_is_refused(tree, workers):
    loader = kt.make_loader(_ds(tree), batch_size=3, shuffle=True, seed=1, num_workers=workers,
                            return_indices=True)
    first = iter(loader)
    seen = next(first)[2].tolist()
    with pytest.raises(RuntimeError, match="already running an epoch"):
        iter(loader)
    seen += [i for _, _, idx in first for i in idx.tolist()]
    assert sorted(seen) == list(range(10))  # the running epoch is intact
    for _ in loader:  # a finished (or abandoned) iteration frees the loader
        break
    assert sorted(i for _, _, idx in loader for i in idx.tolist()) == list(range(10))


# 3 -----------------------------------------------------------------------------------------
def test_flow_from_directory_continues_after_a_bad_batch(tree):
    corrupt(f"{tree}/b/000.png")  # index 4, in batch 2 of 4-sample batches
    it = kt.ImageDataGenerator().flow_from_directory(
        tree, target_size=(6, 5), batch_size=2, shuffle=False, class_mode="sparse")
    assert next(it)[0][:, 0, 0, 0].tolist() == [0, 1]
    assert next(it)[0][:, 0, 0, 0].tolist() == [2, 3]
    with pytest.raises(kt.ImageDecodeError, match="b/000.png"):
        next(it)
    assert next(it)[0][:, 0, 0, 0].tolist() == [6, 7]  # Keras also returns the next batch
    assert next(it)[0][:, 0, 0, 0].tolist() == [8, 9]


# 4 -----------------------------------------------------------------------------------------
def test_fifo_is_never_opened(tree):
    os.mkfifo(f"{tree}/a/zz.png")  # lists last in class a: index 4
    ds = _ds(tree)
    with pytest.raises(kt.ImageDecodeError, match=r"sample 4 .*zz\.png.*a FIFO") as info:
        bounded(lambda: ds[4])
    assert info.value.index == 4
    del info  # frame -> info -> traceback -> frame: the loaders below must not join that cycle
    for workers in (0, 2):
        loader = kt.make_loader(_ds(tree, on_error="skip"), batch_size=4, shuffle=False,
                                num_workers=workers)
        with pytest.warns(UserWarning, match="Skipped 1 image"):
            sizes = bounded(lambda: [x.shape[0] for x, _ in loader])
        assert sizes == [4, 3, 3] and loader.skipped[0][1].endswith("zz.png")


@pytest.mark.parametrize("workers", [0, 2])
def test_slow_read_times_out_in_make_loader(tree, slow_reads, workers):
    _slow_tree(tree)
    loader = kt.make_loader(_ds(tree), batch_size=10, shuffle=False, num_workers=workers,
                            timeout=TIMEOUT)
    start = time.monotonic()
    with pytest.raises(kt.ImageDecodeError, match=r"sample 6 .*slow\.png.*timeout=0.5 s") as e:
        bounded(lambda: list(loader))
    assert e.value.index == 6 and e.value.path.endswith("slow.png")
    assert time.monotonic() - start < TIMEOUT + MARGIN + (3.0 if workers else 0.0)


def test_slow_read_times_out_in_get_batch_and_both_facades(tree, slow_reads):
    _slow_tree(tree)
    loader = kt.make_loader(_ds(tree), batch_size=10, shuffle=False, num_workers=0,
                            timeout=TIMEOUT)
    it = kt.ImageDataGenerator().flow_from_directory(
        tree, target_size=(6, 5), batch_size=10, shuffle=False, timeout=TIMEOUT)
    modern_ds = kt.image_dataset_from_directory(
        tree, image_size=(6, 5), batch_size=10, shuffle=False, timeout=TIMEOUT, verbose=False)
    for read in (lambda: loader.get_batch(0), lambda: next(it), lambda: it[0],
                 lambda: list(modern_ds)):
        start = time.monotonic()
        with pytest.raises(kt.ImageDecodeError, match=r"slow\.png.*TimeoutError"):
            bounded(read)
        assert time.monotonic() - start < TIMEOUT + MARGIN


def test_facades_take_timeout_with_workers(tree, slow_reads):
    _slow_tree(tree)
    it = kt.ImageDataGenerator().flow_from_directory(
        tree, target_size=(6, 5), batch_size=10, shuffle=False, timeout=TIMEOUT, num_workers=2)
    modern_ds = kt.image_dataset_from_directory(
        tree, image_size=(6, 5), batch_size=10, shuffle=False, timeout=TIMEOUT, verbose=False,
        num_workers=2)
    for read in (lambda: next(it), lambda: list(modern_ds)):
        with pytest.raises(kt.ImageDecodeError, match=r"slow\.png.*TimeoutError"):
            bounded(read)


# 5 -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("workers", [0, 2])
def test_skip_covers_a_timed_out_read(tree, slow_reads, workers):
    path = _slow_tree(tree)
    loader = kt.make_loader(_ds(tree, on_error="skip"), batch_size=4, shuffle=False,
                            num_workers=workers, timeout=TIMEOUT, return_indices=True)
    with pytest.warns(UserWarning, match=r"Skipped 1 image.*slow\.png.*index 6"):
        batches = bounded(lambda: list(loader))
    kept = [i for _, _, idx in batches for i in idx.tolist()]
    assert kept == [0, 1, 2, 3, 4, 5, 7, 8, 9] and loader.skipped == [(6, path)]
    moved = {5: 6, 6: 5}  # b/002.png (pixel 6) now lists before slow.png (pixel 5)
    for x, _, idx in batches:  # the rest of the batch after the abandoned read is intact
        assert x[:, 0, 0, 0].tolist() == [moved.get(i, i) for i in idx.tolist()]


# 6 -----------------------------------------------------------------------------------------
def test_unstackable_sizes_name_both_files(tmp_path):
    root = tmp_path / "sizes"
    (root / "a").mkdir(parents=True)
    Image.new("RGB", (5, 4)).save(root / "a" / "0.png")
    Image.new("RGB", (7, 3)).save(root / "a" / "1.png")
    ds = _ds(root, target_size=None)
    for workers in (0, 1):
        loader = kt.make_loader(ds, batch_size=2, shuffle=False, num_workers=workers)
        with pytest.raises(ValueError, match=r"sample 1 \('.*a/1\.png', shape \(3, 3, 7\)\) "
                                             r"with sample 0 \('.*a/0\.png', shape \(3, 4, 5\)\)"):
            bounded(lambda: list(loader))
    assert [x.shape for x, _ in kt.make_loader(ds, batch_size=1, shuffle=False, num_workers=0)] \
        == [(1, 3, 4, 5), (1, 3, 3, 7)]


# 7 -----------------------------------------------------------------------------------------
def test_skips_are_reported_when_an_epoch_ends_early(tree):
    corrupt(f"{tree}/a/001.png")  # index 1
    loader = kt.make_loader(_ds(tree, on_error="skip"), batch_size=4, shuffle=False,
                            num_workers=0)
    with pytest.warns(UserWarning, match=r"Skipped 1 image.*stopped after 1 batches"):
        for _ in loader:
            break
    assert loader.skipped == [(1, f"{tree}/a/001.png")]


# 8 -----------------------------------------------------------------------------------------
def test_on_error_is_accepted_everywhere(tree):
    corrupt(f"{tree}/a/001.png")  # index 1
    loader = kt.make_loader(_ds(tree), on_error="skip", batch_size=4, shuffle=False,
                            num_workers=0)
    with pytest.warns(UserWarning, match="Skipped 1"):
        assert [x.shape[0] for x, _ in loader] == [3, 4, 2]
    with pytest.raises(kt.ImageDecodeError):  # and the other way round
        list(kt.make_loader(_ds(tree, on_error="skip"), on_error="raise", num_workers=0))
    it = kt.ImageDataGenerator().flow_from_directory(
        tree, target_size=(6, 5), batch_size=4, shuffle=False, on_error="skip")
    assert next(it)[0][:, 0, 0, 0].tolist() == [0, 2, 3]
    modern_ds = kt.image_dataset_from_directory(
        tree, image_size=(6, 5), batch_size=4, shuffle=False, on_error="skip", verbose=False)
    with pytest.warns(UserWarning, match="Skipped 1"):
        assert [x.shape[0] for x, _ in modern_ds] == [3, 4, 2]
    assert modern_ds.skipped == [(1, f"{tree}/a/001.png")]
    with pytest.raises(ValueError, match="`on_error` must be one of"):
        kt.image_dataset_from_directory(tree, on_error="ignore")


# 9 -----------------------------------------------------------------------------------------
def test_unseeded_augment_follows_the_loader_seed(tree):
    def run(augment, seed):
        loader = kt.make_loader(_ds(tree), batch_size=5, seed=seed, num_workers=0,
                                augment=augment)
        return [x for x, _ in loader]
    spec = dict(rotation_range=30, horizontal_flip=True)
    first, second = run(kt.Augment(**spec), 0), run(kt.Augment(**spec), 0)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert all(torch.equal(a, b) for a, b in zip(first, run(kt.Augment(**spec, seed=0), 0)))
    assert not all(torch.equal(a, b) for a, b in zip(first, run(kt.Augment(**spec), 1)))


# 10 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("context", [None, "spawn"])
def test_plain_dataloader_sees_set_epoch_in_persistent_workers(tree, context):
    ds = _ds(tree, augment=kt.Augment(rotation_range=40, horizontal_flip=True, seed=3))
    workers = 2 if context is None else 1
    loader = DataLoader(ds, batch_size=5, num_workers=workers, persistent_workers=True,
                        multiprocessing_context=context)
    epochs = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        epochs.append(torch.cat([x for x, _ in loader]))
    assert not torch.equal(epochs[0], epochs[1])
    ds.set_epoch(1)
    assert torch.equal(epochs[1], torch.stack([ds[i][0] for i in range(10)]))


# 11 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["..", ".", "", "../root", f"a{os.sep}..", "a/b"])
def test_class_names_outside_the_root_are_refused(tree, name):
    with pytest.raises(ValueError, match="Class name"):
        _ds(tree, classes=[name])


# 12 ----------------------------------------------------------------------------------------
def test_foreign_formats_are_not_decoded(tree):
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n"
    with open(f"{tree}/a/000.png", "wb") as fh:
        fh.write(eps)
    Image.new("RGB", (6, 5)).save(f"{tree}/a/001.png", format="GIF")
    ds = _ds(tree)
    with pytest.raises(kt.ImageDecodeError, match=r"000\.png.*holds EPS data"):
        ds[0]
    with pytest.raises(kt.ImageDecodeError, match=r"001\.png.*holds GIF data"):
        ds[1]
    Image.new("RGB", (6, 5)).save(f"{tree}/a/002.png", format="JPEG")  # JPEG behind .png:
    assert ds[2][0].shape == (3, 6, 5)  # still decoded, as Keras (the content is sniffed)


# 13 ----------------------------------------------------------------------------------------
def test_tree_without_class_folders_warns_and_yields_empty_batches(tmp_path):
    flat = tmp_path / "cat"
    flat.mkdir()
    Image.new("RGB", (4, 4)).save(flat / "0.png")
    with pytest.warns(UserWarning, match=r"1 image\(s\) directly in .*cat.*no class sub-folders"):
        it = kt.ImageDataGenerator().flow_from_directory(str(flat))
    x, y = next(it)
    assert tuple(x.shape) == (0, 256, 256, 3) and tuple(y.shape) == (0, 0) and len(it) == 0
    with pytest.warns(UserWarning, match="no class sub-folders"):
        ds = _ds(flat, class_mode="sparse")
    assert len(ds) == 0 and list(kt.make_loader(ds, num_workers=0)) == []


# 14 ----------------------------------------------------------------------------------------
class _Interrupt:
    """A main-process standardize step that is interrupted (Ctrl-C) on the second batch."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return x


def test_keyboard_interrupt_stops_the_workers(tree):
    loader = kt.make_loader(_ds(tree), batch_size=2, num_workers=2, standardize=_Interrupt())
    it = iter(loader)
    next(it)
    workers = list(loader._dataloader._iterator._workers)
    with pytest.raises(KeyboardInterrupt):
        next(it)
    for w in workers:
        w.join(10)
    assert not any(w.is_alive() for w in workers)
    assert sum(x.shape[0] for x, _ in kt.make_loader(_ds(tree), num_workers=0)) == 10


def test_reader_threads_end_with_their_loader(tree):
    before = threading.active_count()
    for _ in range(5):
        loader = kt.make_loader(_ds(tree), batch_size=4, num_workers=0, timeout=5)
        assert sum(x.shape[0] for x, _ in loader) == 10
    del loader
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before


def test_a_loader_in_a_reference_cycle_stops_its_workers_at_once(tree):
    """Collected by the cyclic GC (a traceback, a notebook namespace, a self-reference), a
    loader's finalizer stops its persistent workers while the DataLoader is intact: no 5 s
    join timeout per worker (docs/robustness.md, "Loader faults")."""
    loader = kt.make_loader(_ds(tree), batch_size=4, num_workers=2, seed=0)
    next(iter(loader))
    pids = [w.pid for w in loader._dataloader._iterator._workers]
    cycle = {"loader": loader}
    cycle["self"] = cycle
    del loader, cycle
    start = time.perf_counter()
    gc.collect()
    assert time.perf_counter() - start < 2.5
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") and
                                              _alive(p) for p in pids):
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie awaiting its parent's wait counts as stopped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
