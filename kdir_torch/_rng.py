"""Counter-based randomness: every draw is a pure function of ``(seed, epoch, index, stream)``.

DESIGN.md: "Every random draw comes from a generator derived from (seed, epoch, sample index)".
We go one step further than a ``torch.Generator`` per sample: draws are computed by hashing
the counters with SplitMix64 in vectorised numpy ``uint64`` arithmetic, so a whole batch of
per-sample draws costs a few array operations, never a Python loop over samples, and the value
a sample gets cannot depend on batch composition, worker count or device. Nothing here reads
or writes numpy's or Python's global RNG state; the only global state used is torch's default
generator, once, when ``seed=None`` is resolved (``fresh_seed``), as ``DataLoader`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic; callers silence numpy's
    scalar overflow warning)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _as_u64(values: int | Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers. Received dtype={arr.dtype}")
    return arr.astype(np.int64).astype(np.uint64)


def extend(h: np.ndarray, *counters: int | Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    """Hash more counters into ``h``: ``extend(hash64(seed, *a), *b) == hash64(seed, *a, *b)``
    (so draws sharing a prefix, e.g. every stream of one batch, hash it once)."""
    with np.errstate(over="ignore"):
        for c in counters:
            h = _mix(h + _GOLDEN + _as_u64(c))
    return np.asarray(h, dtype=np.uint64)


def hash64(seed: int, *counters: int | Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    """Hash ``seed`` and any number of counters (scalars or equal-length arrays) to uint64."""
    with np.errstate(over="ignore"):
        h = _mix(np.asarray(int(seed) & 0xFFFFFFFFFFFFFFFF, dtype=np.uint64))
    return extend(h, *counters)


def to_uniforms(h: np.ndarray) -> np.ndarray:
    """53-bit uniforms in ``[0, 1)`` from uint64 hashes."""
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def uniforms(
    seed: int,
    epoch: int,
    indices: int | Sequence[int] | np.ndarray | torch.Tensor,
    stream: int,
) -> np.ndarray:
    """Per-sample uniform draws in ``[0, 1)``.

    Args:
        seed: the user (or loader) seed.
        epoch: epoch number; a new epoch gives new draws.
        indices: dataset indices of the samples, shape ``(B,)`` (or a scalar).
        stream: which draw (0, 1, 2, ...) of a sample; distinct streams are independent.

    Returns:
        float64 array shaped like ``indices`` with 53-bit uniforms in ``[0, 1)``.
    """
    return to_uniforms(hash64(seed, epoch, indices, stream))


def derive_seed(seed: int, *counters: int) -> int:
    """A 63-bit seed derived from ``seed`` and counters (for torch.Generator.manual_seed)."""
    return int(hash64(seed, *counters) >> np.uint64(1))


def torch_generator(seed: int, *counters: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` seeded from ``(seed, *counters)``; never the global generator."""
    g = torch.Generator(device=device)
    g.manual_seed(derive_seed(seed, *counters))
    return g


def fresh_seed() -> int:
    """A new 63-bit seed drawn from torch's default generator (``torch.manual_seed`` rules it).

    This is how ``torch.utils.data.DataLoader`` seeds an unseeded shuffle: after
    ``torch.manual_seed(s)`` the same calls draw the same seeds, so a whole run is reproducible;
    without it torch's startup seed differs per process. numpy's and Python's global RNG
    states are never read or written.

    Returns:
        int in ``[0, 2**63 - 1)``.
    """
    return int(torch.randint(2**63 - 1, (), dtype=torch.int64))


def resolve_seed(seed: int | None) -> int:
    """``seed`` as an int, or ``fresh_seed()`` (torch's default generator) when None.

    Raises:
        TypeError: if ``seed`` is not an int (bools are rejected).
    """
    if seed is None:
        return fresh_seed()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"`seed` must be an integer or None. Received: seed={seed!r}")
    return int(seed)
