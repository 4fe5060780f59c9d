"""Loader layer: ``make_loader``, seeded samplers, uint8 collate, CUDA prefetch, DDP helpers."""

from __future__ import annotations

from .distributed import gather_predictions
from .factory import make_loader
from .loader import DeviceLoader
from .pipeline import CallableAugment
from .predict import predict
from .sampler import BatchPlan, BatchRequest, SeededSampler

__all__ = [
    "BatchPlan",
    "BatchRequest",
    "CallableAugment",
    "DeviceLoader",
    "SeededSampler",
    "gather_predictions",
    "make_loader",
    "predict",
]
