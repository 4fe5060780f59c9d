"""The ``kdir-torch`` command: ``demo`` (a tour), ``inspect ROOT`` and ``preview ROOT``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter

import numpy as np


def build_demo_tree(root: str, classes: int = 3, per_class: int = 10, seed: int = 0) -> str:
    """Write a small ``root/class_k/NN.png`` tree of synthetic, class-coloured images."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    names = [f"Class_{k}" for k in (1, 2, 10, 3, 4, 5)[:classes]]
    for k, name in enumerate(names):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            h, w = rng.integers(40, 90, size=2)
            img = rng.integers(0, 60, size=(h, w, 3), dtype=np.uint8)
            img[..., k % 3] += np.uint8(150)
            Image.fromarray(img).save(os.path.join(root, name, f"{i:02d}.png"))
    return root


def _demo(args: argparse.Namespace) -> int:
    import torch

    import kdir_torch as kt

    with tempfile.TemporaryDirectory() as tmp:
        root = build_demo_tree(os.path.join(tmp, "images"), args.classes, args.per_class)
        print(f"Built a demo tree in {root}\n")
        print("1) KerasDirDataset (flow_from_directory semantics, channels_first):")
        ds = kt.KerasDirDataset(root, target_size=(64, 64), class_mode="categorical",
                                validation_split=0.2, subset="training")
        print("   class_indices:", ds.class_indices, "(plain string sort, as Keras)")
        counts = Counter(ds.class_names[c] for c in ds.classes)
        print(f"   training subset: {len(ds)} images {dict(counts)}; first files {list(ds.filenames[:2])}")
        print("\n2) make_loader: uint8 workers, augmentation after transfer, seeded:")
        loader = kt.make_loader(ds, batch_size=args.batch_size, num_workers=args.workers, seed=0,
                                augment=kt.Augment(rotation_range=15, horizontal_flip=True, seed=0))
        x, y = next(iter(loader))
        print(f"   batch x: shape={tuple(x.shape)} dtype={x.dtype} device={x.device} "
              f"range=[{x.min():.0f}, {x.max():.0f}]")
        print(f"   batch y: shape={tuple(y.shape)} dtype={y.dtype} (one-hot); {len(loader)} batches/epoch")
        print("\n3) ImageDataGenerator().flow_from_directory (Keras iterator protocol, channels_last):")
        gen = kt.ImageDataGenerator(rescale=1 / 255, zoom_range=0.1, validation_split=0.2)
        it = gen.flow_from_directory(root, target_size=(64, 64), batch_size=args.batch_size,
                                     class_mode="sparse", subset="training", seed=1)
        xb, yb = next(it)
        print(f"   next(it): x {tuple(xb.shape)} {xb.dtype} in [{xb.min():.2f}, {xb.max():.2f}], "
              f"y {tuple(yb.shape)} {yb.dtype}; len(it)={len(it)}")
        print("\n4) image_dataset_from_directory (modern semantics, seeded global split):")
        train, val = kt.image_dataset_from_directory(root, image_size=(48, 48), validation_split=0.2,
                                                     subset="both", seed=123, batch_size=args.batch_size)
        xm, ym = next(iter(train))
        print(f"   class_names={train.class_names}; batch x {tuple(xm.shape)} {xm.dtype}, "
              f"y {tuple(ym.shape)} {ym.dtype}")
        loader.set_epoch(0)  # replay epoch 0: same seed and epoch give the same pixels
        if not torch.equal(x, next(iter(loader))[0]):
            raise RuntimeError("replaying epoch 0 gave different pixels")
        print("\nOK: replaying epoch 0 (loader.set_epoch(0)) gave bit-identical augmented pixels.")
    return 0


def _fail(command: str, message: str) -> int:
    """One-line error on stderr, exit status 1 (bad trees; bad arguments are argparse's 2)."""
    print(f"kdir-torch {command}: error: {message}", file=sys.stderr)
    return 1


def _inspect(args: argparse.Namespace) -> int:
    from .inspect_tree import analyze_tree, format_report

    modern = args.modern or args.formats == "modern"
    try:
        report = analyze_tree(args.root, modern=modern, split=args.split, seed=args.seed,
                              follow_links=args.follow_links)
    except (FileNotFoundError, NotADirectoryError) as e:
        return _fail("inspect", f"cannot list directory {args.root!r}: {e.strerror or e}")
    print(json.dumps(report) if args.json else format_report(report))
    return 0


def _preview(args: argparse.Namespace) -> int:
    from .grid import save_grid
    from .preview import preview_batch

    if args.original and args.augment is None:
        args.parser.error("--original needs --augment")
    try:
        x, y, class_indices = preview_batch(args.root, n=args.n, size=args.size, seed=args.seed,
                                            augment=args.augment, original=args.original)
    except (OSError, ValueError) as e:
        return _fail("preview", str(e))
    ncols = args.ncols + (args.ncols % 2 if args.original else 0)
    path = save_grid(x, y, class_indices, path=args.out, ncols=ncols)
    from PIL import Image

    with Image.open(path) as im:
        width, height = im.size
    print(f"{path}: {width}x{height} pixels, {len(x)} tiles")
    return 0


def _augment_arg(text: str) -> dict:
    from .preview import parse_augment

    try:
        return parse_augment(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be strictly between 0 and 1, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _at_least_5(text: str) -> int:
    value = int(text)
    if value < 5:  # the demo's 20% validation subsets need >= 1 image each
        raise argparse.ArgumentTypeError(f"must be >= 5, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kdir-torch`` console script."""
    p = argparse.ArgumentParser(prog="kdir-torch", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="build a small image tree in a temp dir and load it the Keras way")
    d.add_argument("--classes", type=int, default=3, choices=range(1, 7))
    d.add_argument("--per-class", type=_at_least_5, default=10, help="images per class (>= 5)")
    d.add_argument("--batch-size", type=int, default=8)
    d.add_argument("--workers", type=int, default=0, help="loader worker processes")
    d.set_defaults(func=_demo)
    i = sub.add_parser("inspect", help="the class table Keras builds for a tree, and its traps")
    i.add_argument("root")
    i.add_argument("--formats", choices=["legacy", "modern"], default="legacy")
    i.add_argument("--modern", action="store_true", help="same as --formats modern")
    i.add_argument("--split", type=_fraction, help="validation fraction: per-subset counts")
    i.add_argument("--seed", type=int, default=0, help="shuffle seed of the modern split")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.add_argument("--follow-links", action="store_true")
    i.set_defaults(func=_inspect)
    v = sub.add_parser("preview", help="save a grid of a batch as Keras lists it, augmented")
    v.add_argument("root")
    v.add_argument("--out", required=True, help="output image (PNG, JPEG, ...)")
    v.add_argument("--n", type=_positive, default=32, help="number of images")
    v.add_argument("--augment", type=_augment_arg, metavar="K=V,...",
                   help="kt.Augment arguments, e.g. rotation_range=20,horizontal_flip=true")
    v.add_argument("--original", action="store_true",
                   help="alternate tiles: each original, then its augmented version")
    v.add_argument("--size", type=_positive, default=128, help="tile size in pixels")
    v.add_argument("--ncols", type=_positive, default=8, help="tiles per row")
    v.add_argument("--seed", type=int, default=0, help="picks the images and seeds Augment")
    v.set_defaults(func=_preview, parser=v)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
