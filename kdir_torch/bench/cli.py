"""Command line of the benchmarks: ``scripts/bench.py [SECTION ...]`` and ``kdir-torch bench [DIR]``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras, when installed, runs on torch here


def _index(a: argparse.Namespace) -> Any:
    from .index import index_speed

    return index_speed(a.files, a.repeats)


def _augment(a: argparse.Namespace) -> Any:
    from .augment import augment_throughput

    return augment_throughput(n_images=a.images, rounds=a.repeats)


def _loader(a: argparse.Namespace) -> Any:
    from .loader import loader_throughput

    return loader_throughput(n_images=a.photos, num_workers=a.workers, root=a.root,
                             rounds=a.repeats, device=a.device,
                             decode_on_device=a.decode_on_device)


def _memory(a: argparse.Namespace) -> Any:
    from .memory import worker_memory

    return worker_memory(a.entries)


def _cache(a: argparse.Namespace) -> Any:
    from .cache import cache_throughput

    return cache_throughput(n_images=a.photos, num_workers=a.workers, root=a.root,
                            rounds=a.repeats)


def _draft(a: argparse.Namespace) -> Any:
    from .draft import draft_speed

    return draft_speed(n_images=a.draft_photos, num_workers=a.workers, rounds=a.repeats)


#: Section name -> runner of the parsed arguments, in the default order.
SECTIONS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "index": _index, "augment": _augment, "loader": _loader, "memory": _memory,
    "cache": _cache,
    "draft": _draft,
}


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_options(p: argparse.ArgumentParser) -> None:
    """The options every section reads (sizes, rounds, workers, device)."""
    p.add_argument("--files", type=int, default=200_000, help="files for the index benchmark")
    p.add_argument("--repeats", type=int, default=3,
                   help="index repeats / interleaved rounds of the timed sections")
    p.add_argument("--images", type=int, default=256, help="images for the augment benchmark")
    p.add_argument("--photos", type=int, default=2000,
                   help="JPEGs of the built-in loader tree (ignored with a tree of your own)")
    p.add_argument("--workers", type=int, default=None,
                   help="loader workers / pool processes (default: the usable cores)")
    p.add_argument("--device", default="cpu",
                   help="where make_loader delivers its batches in the loader benchmark (cuda: "
                        "float conversion on the GPU, each epoch timed to a synchronize)")
    p.add_argument("--draft-photos", type=int, default=200,
                   help="2400x1800 JPEGs of the reduced-DCT (jpeg_draft) benchmark tree")
    p.add_argument("--decode-on-device", action="store_true",
                   help="loader benchmark: also time make_loader(decode_on='device') (nvJPEG "
                        "decode + resize on the GPU); skipped with a message without CUDA")
    p.add_argument("--limit", type=_positive, default=None, metavar="N",
                   help="with a tree of your own: time N of its images, evenly spread over "
                        "its classes (symlinks in a temporary folder); default: all of them")
    p.add_argument("--entries", type=int, default=1_000_000,
                   help="index entries for the memory benchmark")


def run(p: argparse.ArgumentParser, a: argparse.Namespace) -> int:
    """Check the arguments (errors through ``p``) and run ``a.sections`` in order."""
    if a.root is not None and not os.path.isdir(a.root):
        p.error(f"{a.root!r} is not a directory")
    if a.device.startswith("cuda") and "loader" in a.sections:
        import torch

        if not torch.cuda.is_available():
            p.error(f"--device {a.device}: CUDA is not available on this machine")
    if a.root is None or a.limit is None:
        for name in a.sections:
            SECTIONS[name](a)
        return 0
    import tempfile

    from .trees import sample_tree

    with tempfile.TemporaryDirectory(prefix="kdir_bench_sample_") as tmp:
        try:
            a.root = sample_tree(a.root, a.limit, tmp)
        except ValueError as exc:
            p.error(str(exc))
        print(f"[bench] timing {sum(len(f) for _, _, f in os.walk(tmp))} images of the tree, "
              f"symlinked under {tmp} (--limit {a.limit})")
        for name in a.sections:
            SECTIONS[name](a)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``scripts/bench.py``: every section by default, or the ones named."""
    from . import __doc__ as doc

    p = argparse.ArgumentParser(prog="bench.py", description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sections", nargs="*", default=list(SECTIONS), choices=list(SECTIONS))
    p.add_argument("--root", help="a class tree of your own for the loader and cache sections "
                   "(read only; default: a built-in photo tree)")
    add_options(p)
    return run(p, p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
