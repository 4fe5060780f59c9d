"""kdir_torch's benchmarks, one home for ``kdir-torch bench`` and ``scripts/bench.py``.

Every figure is printed next to its reference measured in the same run (the raw decode
bound, Keras, installed peers), with medians of interleaved rounds: compare the ratios of
one run, not absolute numbers across runs.

Layout: ``trees`` builds the benchmark trees, ``timing`` holds ``interleaved`` rounds and the
``report`` line format, and each section is one module with one entry function:
``index.index_speed``, ``augment.augment_throughput``, ``loader.loader_throughput``,
``memory.worker_memory``, ``draft.draft_speed``. ``cli.SECTIONS`` maps a section name to a
function of the parsed arguments; a new section is a module plus one entry there (and its
options in ``cli.add_options``).
"""
