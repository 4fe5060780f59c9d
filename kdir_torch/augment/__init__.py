"""Batched, device-agnostic Keras-style image augmentation (keras-semantics §A10-§A11).

``Augment`` draws per-sample parameters from ``(seed, epoch, index)`` and applies them with
the pure kernels of :mod:`kdir_torch.augment.functional`; ``AugmentParams`` carries them.
"""

from __future__ import annotations

from kdir_torch.augment import functional
from kdir_torch.augment.module import Augment
from kdir_torch.augment.params import AugmentParams

__all__ = ["Augment", "AugmentParams", "functional"]
