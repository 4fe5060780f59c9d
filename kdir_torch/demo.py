"""``kdir-torch demo``: build a small shape tree, load it the Keras way, train a CNN on it.

What a newcomer sees, in about a minute on 2 CPU cores (``--quick``: a few seconds):

1. ``OUT/images/Class_k/NN.png``: procedurally drawn circles, checkerboards, stripes and dots
   (random position, size, angle, colours, noisy background). The folder names make
   Keras's plain string sort visible: ``Class_10`` gets an index before ``Class_2``.
2. ``KerasDirDataset`` (``flow_from_directory`` semantics) and its ``class_indices``, cut with
   ``kt.split(ds, [0.2], seed=0)`` (stratified) into validation / training parts.
3. A small CNN trained on CPU through ``kt.make_loader(..., augment=kt.Augment(...), seed=0)``.
   Progress: a bar per epoch on stderr (``kdir_torch.progress``, shown when an epoch lasts
   over a second) with the running loss and accuracy, and one plain line per epoch (loss,
   accuracy, batches/s) that stays in the output.
4. Validation accuracy and a confusion matrix by class name from ``kt.predict`` (rows in the
   validation part's ``filenames`` order, so they line up with ``val.classes``).
5. ``OUT/batch_grid.png``: an augmented training batch, titled by class name (``kt.save_grid``).

Everything is seeded (``torch.manual_seed(0)``, ``seed=0``): the same arguments print the
same numbers on the same machine.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from typing import Any

import numpy as np

# folder name -> what is drawn; listed in creation order (Keras sorts them as strings)
SHAPES = (("Class_1", "circle"), ("Class_2", "checks"), ("Class_10", "stripes"),
          ("Class_3", "dots"))
MARKER = ".kdir-torch-demo"  # written in OUT; a non-empty OUT without it is refused
GRID = "batch_grid.png"
QUICK = {"per_class": 5, "epochs": 1, "size": 24}
FULL = {"per_class": 200, "epochs": 30, "size": 48}


def _colour(rng: np.random.Generator, far_from: np.ndarray | None = None) -> np.ndarray:
    """A random RGB colour; at least 120 (L1 over channels) away from ``far_from``."""
    while True:
        c = rng.integers(0, 256, size=3)
        if far_from is None or np.abs(c - far_from).sum() >= 120:
            return c


def draw_shape(kind: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """One ``(h, w, 3)`` uint8 image: a ``kind`` shape on a noisy random background."""
    from PIL import Image, ImageDraw

    bg = _colour(rng)
    fg = tuple(int(v) for v in _colour(rng, bg))
    img = Image.new("RGB", (w, h), tuple(int(v) for v in bg))
    draw = ImageDraw.Draw(img)
    side = min(h, w)
    r = rng.uniform(0.18, 0.38) * side  # "radius" of the shape
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
    angle = rng.uniform(0, 2 * np.pi)
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fg)
    elif kind == "dots":  # a scatter of small disks
        for _ in range(int(rng.integers(6, 12))):
            dx, dy, dr = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.04, 0.08) * side
            draw.ellipse((dx - dr, dy - dr, dx + dr, dy + dr), fill=fg)
    elif kind in ("stripes", "checks"):  # bands (or a checkerboard) at a random angle
        period = rng.uniform(0.2, 0.35) * side
        yy, xx = np.mgrid[0:h, 0:w]
        u = (xx * np.cos(angle) + yy * np.sin(angle)) / period
        v = (-xx * np.sin(angle) + yy * np.cos(angle)) / period
        mask = (u % 1.0) < 0.5
        if kind == "checks":
            mask ^= (v % 1.0) < 0.5
        arr = np.asarray(img).copy()
        arr[mask] = fg
        img = Image.fromarray(arr)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    arr = np.asarray(img).astype(np.int16) + rng.normal(0, 18, size=(h, w, 3)).astype(np.int16)
    return np.clip(arr, 0, 255).astype(np.uint8)


def build_demo_tree(root: str, classes: int = 3, per_class: int = 10, seed: int = 0,
                    size: int = 64, verbose: bool = False) -> str:
    """Write ``root/Class_k/NN.png``: ``per_class`` drawn images for each of ``classes`` shapes.

    Image sides vary in ``[size, 1.4 * size]`` (the dataset resizes them); ``verbose``: a
    progress bar on stderr when drawing lasts over a second. Returns ``root``.
    """
    from PIL import Image

    from .progress import progress

    if not 1 <= classes <= len(SHAPES):
        raise ValueError(f"`classes` must be in 1..{len(SHAPES)}. Received: classes={classes}")
    rng = np.random.default_rng(seed)
    with progress(total=classes * per_class, desc="Drawing images", unit="img",
                  verbose=verbose) as bar:
        for name, kind in SHAPES[:classes]:
            os.makedirs(os.path.join(root, name), exist_ok=True)
            for i in range(per_class):
                h, w = rng.integers(size, int(size * 1.4) + 1, size=2)
                Image.fromarray(draw_shape(kind, int(h), int(w), rng)).save(
                    os.path.join(root, name, f"{i:02d}.png"))
                bar.update(1)
    return root


def prepare_out(out: str | None) -> str:
    """The demo folder: a new kept temp dir, or ``out`` (empty, missing or a previous demo's).

    A previous demo folder (it holds ``MARKER`` and only what the demo writes) is emptied.

    Raises:
        ValueError: ``out`` is a file, or a non-empty folder that is not a previous demo's.
    """
    if out is None:
        out = tempfile.mkdtemp(prefix="kdir-torch-demo-")
    elif os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out!r} is not a directory")
    elif os.path.isdir(out) and os.listdir(out):
        entries = set(os.listdir(out))
        if MARKER not in entries or not entries <= {MARKER, "images", GRID}:
            raise ValueError(f"--out {out!r} is not empty and not a previous demo folder; "
                             "pick a new or empty directory")
        shutil.rmtree(os.path.join(out, "images"), ignore_errors=True)
        if os.path.exists(os.path.join(out, GRID)):
            os.remove(os.path.join(out, GRID))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, MARKER), "w") as f:
        json.dump({"written_by": "kdir-torch demo", "entries": ["images", GRID]}, f)
    return out


def small_cnn(num_classes: int) -> Any:
    """Three conv blocks, global average pooling, a linear head; input float 0..255."""
    from torch import nn

    class SmallCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            def block(cin: int, cout: int) -> nn.Sequential:
                return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout),
                                     nn.ReLU(), nn.MaxPool2d(2))
            self.features = nn.Sequential(block(3, 16), block(16, 32), block(32, 64))
            self.head = nn.Linear(64, num_classes)

        def forward(self, x: Any) -> Any:
            x = self.features(x / 255.0)
            return self.head(x.mean(dim=(2, 3)))

    return SmallCNN()


def train(model: Any, loader: Any, epochs: int, lr: float = 3e-3) -> list[float]:
    """Adam on cross-entropy for ``epochs`` epochs; prints progress; returns each epoch's loss."""
    import torch

    from .progress import progress

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        model.train()
        bar = progress(total=len(loader), desc=f"epoch {epoch + 1}/{epochs}", unit="batch")
        total, correct, seen, t0 = 0.0, 0, 0, time.perf_counter()
        for x, y in loader:
            y = y.long()
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            bar.set_postfix(loss=f"{total / seen:.3f}", acc=f"{correct / seen:.2f}",
                            refresh=False)
            bar.update(1)
        dt = time.perf_counter() - t0
        losses.append(total / seen)
        bar.close()
        print(f"   epoch {epoch + 1}/{epochs}: loss {total / seen:.3f}, train accuracy "
                  f"{correct / seen:.2f}, {len(loader)} batches in {dt:.1f} s "
                  f"({len(loader) / dt:.1f} batches/s)", flush=True)
    return losses


def confusion(true: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """``(k, k)`` counts: row = true class, column = predicted class."""
    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k)


def format_confusion(matrix: np.ndarray, names: list[str]) -> list[str]:
    """The matrix as text lines (rows: true class, columns: predicted) and each recall."""
    corner = "true \\ pred"
    width, first = max(len(n) for n in names), max(max(len(n) for n in names), len(corner))
    lines = [f"   {corner:>{first}} " + " ".join(f"{n:>{width}}" for n in names)]
    for i, (name, row) in enumerate(zip(names, matrix)):
        recall = f"{row[i] / row.sum():.0%}" if row.sum() else "n/a"
        lines.append(f"   {name:>{first}} " + " ".join(f"{v:>{width}}" for v in row)
                     + f"   recall {recall}")
    return lines


def run_demo(out: str | None = None, *, classes: int = 4, per_class: int | None = None,
             epochs: int | None = None, size: int | None = None, quick: bool = False,
             batch_size: int = 16, workers: int = 0) -> dict:
    """The whole demo (module docstring); prints as it goes and returns its results.

    ``per_class``, ``epochs`` and ``size`` default to ``QUICK`` or ``FULL``.

    Returns:
        A dict: ``out``, ``class_indices``, ``accuracy``, ``confusion``, ``grid`` (path) and
        ``grid_size`` (width, height).
    """
    import torch

    import kdir_torch as kt

    preset = QUICK if quick else FULL
    per_class = preset["per_class"] if per_class is None else per_class
    epochs = preset["epochs"] if epochs is None else epochs
    size = preset["size"] if size is None else size
    t_start = time.perf_counter()
    out = prepare_out(out)
    root = build_demo_tree(os.path.join(out, "images"), classes, per_class, size=size,
                           verbose=True)
    legend = ", ".join(f"{n} = {kind.rstrip('s')}s" for n, kind in SHAPES[:classes])
    print(f"1) Built {classes * per_class} drawn images ({legend}) in {root}")

    ds = kt.KerasDirDataset(root, target_size=(size, size), class_mode="sparse",
                            interpolation="bilinear")
    print(f"\n2) class_indices: {ds.class_indices}")
    print("   Keras sorts class folder names as plain strings, so 'Class_10' comes before "
          "'Class_2': the index is the position in that sort, not the number in the name.")
    val, tr = kt.split(ds, [0.2], seed=0)
    print(f"   kt.split(ds, [0.2], seed=0): {len(tr)} training / {len(val)} validation images "
          "(stratified: every class cut at 20%)")

    torch.manual_seed(0)
    augment = kt.Augment(rotation_range=20, width_shift_range=0.1, height_shift_range=0.1,
                         zoom_range=0.1, horizontal_flip=True, fill_mode="reflect")
    loader = kt.make_loader(tr, batch_size=batch_size, num_workers=workers, seed=0,
                            augment=augment)
    model = small_cnn(len(ds.class_names))
    print(f"\n3) Training a small CNN ({sum(p.numel() for p in model.parameters())} parameters) "
          f"for {epochs} epoch(s) on {size}x{size} images, augmented (rotation, shift, zoom, "
          "flip), seed=0:")
    train(model, loader, epochs)

    logits = kt.predict(model, val, batch_size=64, num_workers=workers)
    pred = logits.argmax(1).numpy()
    true = np.asarray(val.classes, dtype=np.int64)
    accuracy = float((pred == true).mean())
    matrix = confusion(true, pred, len(ds.class_names))
    print(f"\n4) Validation accuracy: {accuracy:.3f} ({int((pred == true).sum())}/{len(true)}; "
          f"chance {1 / len(ds.class_names):.3f}), from kt.predict(model, val) "
          "(rows in val.filenames order)")
    for line in format_confusion(matrix, list(ds.class_names)):
        print(line)

    loader.set_epoch(0)
    x, y = next(iter(loader))
    grid = kt.save_grid(x, y, ds.class_indices, path=os.path.join(out, GRID), ncols=8)
    from PIL import Image

    with Image.open(grid) as im:
        grid_size = im.size
    print(f"\n5) Augmented training batch (epoch 0, {len(x)} images): {grid} "
          f"({grid_size[0]}x{grid_size[1]} pixels)")
    print(f"\nDone in {time.perf_counter() - t_start:.1f} s. The demo folder is kept: {out}\n"
          f"   look at it with: kdir-torch inspect {root}")
    return {"out": out, "class_indices": dict(ds.class_indices), "accuracy": accuracy,
            "confusion": matrix, "grid": grid, "grid_size": grid_size}
