#!/usr/bin/env python
"""kdir_torch benchmarks (the code lives in ``kdir_torch.bench``; ``kdir-torch bench`` runs the
same). Every figure is printed next to its reference measured in the same run.

    python scripts/bench.py                      # every section, default sizes
    python scripts/bench.py index --files 200000 # indexing vs Keras's DirectoryIterator
    python scripts/bench.py loader --root DIR    # the loader section on a tree of your own
"""

import sys

from kdir_torch.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
