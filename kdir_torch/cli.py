"""The ``kdir-torch`` command: ``demo`` (self-contained tour) and ``inspect ROOT``."""

from __future__ import annotations

import argparse
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
        print(f"Built a demo tree in {root}")
        ds = kt.KerasDirDataset(root, target_size=(64, 64), class_mode="categorical",
                                validation_split=0.2, subset="training")
        val = kt.KerasDirDataset(root, target_size=(64, 64), class_mode="categorical",
                                 validation_split=0.2, subset="validation")
        print("class_indices:", ds.class_indices, "(plain string sort, as Keras)")
        counts = Counter(ds.class_names[c] for c in ds.classes)
        print(f"training: {len(ds)} images {dict(counts)}; validation: {len(val)} images")
        loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=False)
        x, y = next(iter(loader))
        print(f"batch x: shape={tuple(x.shape)} dtype={x.dtype} range=[{x.min():.0f}, {x.max():.0f}]")
        print(f"batch y: shape={tuple(y.shape)} dtype={y.dtype} (one-hot, class_mode='categorical')")
        print(f"first files: {list(ds.filenames[:3])}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    import kdir_torch as kt

    idx = kt.index_directory(args.root, follow_links=args.follow_links, formats=args.formats)
    counts = np.bincount(idx.classes, minlength=idx.num_classes)
    print(f"{len(idx)} images in {idx.num_classes} classes under {args.root} ({args.formats} rules)")
    for name, n in zip(idx.class_names, counts):
        print(f"  {idx.class_indices[name]:>4}  {name}: {n}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kdir-torch`` console script."""
    p = argparse.ArgumentParser(prog="kdir-torch", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="build a small image tree in a temp dir and load it the Keras way")
    d.add_argument("--classes", type=int, default=3, choices=range(1, 7))
    d.add_argument("--per-class", type=int, default=10)
    d.add_argument("--batch-size", type=int, default=8)
    d.set_defaults(func=_demo)
    i = sub.add_parser("inspect", help="list the classes and image counts of a directory tree")
    i.add_argument("root")
    i.add_argument("--formats", choices=["legacy", "modern"], default="legacy")
    i.add_argument("--follow-links", action="store_true")
    i.set_defaults(func=_inspect)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
