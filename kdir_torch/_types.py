"""Literal aliases for the string-valued arguments (keras-semantics §A1, §B1)."""

from __future__ import annotations

from typing import Literal

ClassMode = Literal["categorical", "binary", "sparse", "input"] | None
LabelMode = Literal["int", "categorical", "binary"] | None
ColorMode = Literal["rgb", "rgba", "grayscale"]
Interpolation = Literal["nearest", "bilinear", "bicubic", "hamming", "box", "lanczos"]
ModernInterpolation = Literal[
    "bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic"
]
FillMode = Literal["constant", "nearest", "reflect", "wrap"]
DataFormat = Literal["channels_first", "channels_last"]
Subset = Literal["training", "validation"] | None
OnError = Literal["raise", "skip"]
Formats = Literal["legacy", "modern"]
