"""Batched, device-agnostic Keras-style image augmentation (keras-semantics §A10-§A11).

``Augment`` draws per-sample parameters from ``(seed, epoch, index)`` and applies them with
the pure kernels of :mod:`kdir_torch.augment.functional`; ``AugmentParams`` carries them.
On the CPU the resampling runs in a compiled kernel with scipy's pixels exactly when it was
built at install (:func:`has_compiled_kernel`), and in torch kernels otherwise.
"""

from __future__ import annotations

from kdir_torch.augment import functional
from kdir_torch.augment._native import available as has_compiled_kernel
from kdir_torch.augment.module import Augment
from kdir_torch.augment.params import AugmentParams

__all__ = ["Augment", "AugmentParams", "functional", "has_compiled_kernel"]
