"""The decoded cache: ``cache="memory"`` / ``cache="disk"`` on the directory datasets.

Epochs after the first read each sample's decoded, resized pixels (exactly what
``load_raw`` returns, bit for bit, in its dtype) from one shared copy instead of decoding
the file again:

* ``store.py``: fixed-size slots + per-slot "filled" flags, the read/fill logic;
* ``memory.py``: the slots in shared memory, one copy for every worker (fork and spawn);
* ``disk.py``: the slots in a memory-mapped file under ``cache_dir``, reused across
  processes and sessions with the same ``key.py`` key;
* ``budget.py``: ``cache_bytes`` and the default budgets;
* ``setup.py``: argument checks and the ``@cached`` hook on ``load_raw``;
* ``fill.py``: ``ds.fill_cache()``, filling up front with workers and a progress bar.
"""

from .setup import CACHE_KINDS, attach_cache, cache_view, cached, check_cache_args, drop_cache, \
    take_cache
from .store import CacheInfo, SlotSpec

__all__ = ["CACHE_KINDS", "CacheInfo", "SlotSpec", "attach_cache", "cache_view", "cached",
           "check_cache_args", "drop_cache", "take_cache"]
