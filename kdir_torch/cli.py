"""The ``kdir-torch`` command: ``demo`` (a tour: draw, load, train), ``inspect ROOT``, ``preview ROOT``
and ``bench [ROOT]`` (the loader benchmark on your tree)."""

from __future__ import annotations

import argparse
import json
import sys

from .demo import build_demo_tree  # noqa: F401  (the demo's tree builder, used by tests)


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    try:
        run_demo(args.out, classes=args.classes, per_class=args.per_class, epochs=args.epochs,
                 size=args.size, quick=args.quick, batch_size=args.batch_size,
                 workers=args.workers)
    except ValueError as e:
        return _fail("demo", str(e))
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


def _bench(args: argparse.Namespace) -> int:
    from .bench.cli import run

    return run(args.parser, args)


def _sections(text: str) -> list[str]:
    from .bench.cli import SECTIONS

    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"must be a comma-separated list of {', '.join(SECTIONS)}. Received: {text!r}")
    return names


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


def _at_least_8(text: str) -> int:
    value = int(text)
    if value < 8:  # three 2x2 poolings of the demo CNN
        raise argparse.ArgumentTypeError(f"must be >= 8, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kdir-torch`` console script."""
    p = argparse.ArgumentParser(prog="kdir-torch", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="draw a small shape tree, load it the Keras way, train a "
                       "small CNN on it (about a minute on 2 CPU cores; --quick: seconds)")
    d.add_argument("--out", help="demo folder (new, empty or a previous demo's; default: a new "
                   "temp dir, kept)")
    d.add_argument("--classes", type=int, default=4, choices=range(2, 5))
    d.add_argument("--per-class", type=_at_least_5, help="images per class (>= 5; default 60, "
                   "--quick 5)")
    d.add_argument("--epochs", type=_positive, help="training epochs (default 8, --quick 1)")
    d.add_argument("--size", type=_at_least_8, help="image side in pixels (default 40, --quick 24)")
    d.add_argument("--quick", action="store_true", help="tiny tree, 1 epoch, small images")
    d.add_argument("--batch-size", type=_positive, default=16)
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
    from .bench.cli import add_options

    b = sub.add_parser("bench", help="the loader benchmark on your tree (or a built-in photo "
                       "tree): images/s and ratios to the raw decode bound and installed peers")
    b.add_argument("root", nargs="?", help="class tree to read (nothing is written into it); "
                   "default: a built-in photo tree kept under $TMPDIR")
    b.add_argument("--sections", type=_sections, default=["loader"], metavar="NAME,...",
                   help="benchmark sections to run (default: loader)")
    add_options(b)
    b.set_defaults(func=_bench, parser=b)
    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
