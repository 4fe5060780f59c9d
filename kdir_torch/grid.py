"""Look at a batch: ``save_grid`` (PIL only, always available) and ``show_batch`` (notebooks).

Both take what a loader or a Keras iterator yields: images ``(B, C, H, W)`` or ``(B, H, W, C)``
(``C`` in 1/3/4; the layout is detected, see ``_layout``), float ``0..1`` or ``0..255`` or
integers, as torch tensors or numpy arrays; labels as class indices ``(B,)`` or one-hot /
multi-hot / probability rows ``(B, K)``. Each tile gets a title (its class name, or its index
when no ``class_names`` are given) in a band below it.

Grid geometry (what the tests check): ``cols = min(ncols, B)``, ``rows = ceil(B / cols)``,
width ``cols * (W + pad) + pad``, height ``rows * (H + band + pad) + pad``, where ``band`` is
``TITLE_BAND`` pixels when labels are given and 0 otherwise.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

TITLE_BAND = 14  # pixels of title text below each tile when labels are given
_PAD = 2


def _to_numpy(a: Any, what: str) -> np.ndarray:
    """A torch tensor (any device) or array-like as a numpy array."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):
        a = a.detach().cpu().numpy()
    try:
        return np.asarray(a)
    except Exception as e:  # any unconvertible object
        raise TypeError(f"`{what}` must be a torch tensor or a numpy array. "
                        f"Received: {what}={a!r:.80}") from e


def _layout(shape: tuple[int, ...], data_format: str | None, is_tensor: bool) -> str:
    """"channels_first" or "channels_last" for a 4-D ``shape``.

    Ambiguous shapes (both axis 1 and axis 3 in 1/3/4, e.g. ``(B, 3, 4, 3)``) follow the
    habit of the source: channels_first for torch tensors, channels_last for numpy (Keras).
    """
    if data_format is not None:
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError('`data_format` must be "channels_first", "channels_last" or None. '
                             f"Received: data_format={data_format!r}")
        channels = shape[1] if data_format == "channels_first" else shape[3]
        if channels not in (1, 3, 4):
            raise ValueError(f"`x` must have 1, 3 or 4 channels on its {data_format} axis. "
                             f"Received: x.shape={shape}")
        return data_format
    first, last = shape[1] in (1, 3, 4), shape[3] in (1, 3, 4)
    if first and last:
        return "channels_first" if is_tensor else "channels_last"
    if first:
        return "channels_first"
    if last:
        return "channels_last"
    raise ValueError("`x` must be a batch (B, C, H, W) or (B, H, W, C) with C in 1, 3 or 4 "
                     f"channels. Received: x.shape={shape}")


def to_uint8_nhwc(x: Any, data_format: str | None = None) -> np.ndarray:
    """Images as a ``(B, H, W, C)`` uint8 array (``C`` in 1/3/4).

    Args:
        x: ``(B, C, H, W)`` or ``(B, H, W, C)`` tensor or array; uint8/integers are clipped to
            ``0..255``; floats whose values all lie in ``[0, 1]`` are scaled by 255, other
            floats are clipped to ``0..255`` (NaN becomes 0).
        data_format: force the layout; None detects it (see ``_layout``).

    Returns:
        ``(B, H, W, C)`` uint8 array.

    Raises:
        TypeError: ``x`` is not numeric.
        ValueError: ``x`` is not 4-D, is empty, or has no 1/3/4-channel axis.
    """
    is_tensor = hasattr(x, "detach")
    arr = _to_numpy(x, "x")
    if arr.dtype.kind not in "uif":
        raise TypeError(f"`x` must hold integer or float pixels. Received: x.dtype={arr.dtype}")
    if arr.ndim != 4:
        raise ValueError("`x` must be a 4-D batch (B, C, H, W) or (B, H, W, C). "
                         f"Received: x.shape={arr.shape}")
    if arr.size == 0:
        raise ValueError(f"`x` must hold at least one image. Received: x.shape={arr.shape}")
    if _layout(arr.shape, data_format, is_tensor) == "channels_first":
        arr = arr.transpose(0, 2, 3, 1)
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind == "f":
        arr = np.nan_to_num(arr.astype(np.float32), nan=0.0)
        if arr.min() >= 0.0 and arr.max() <= 1.0:
            arr = arr * 255.0
        return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return np.clip(arr, 0, 255).astype(np.uint8)


def _names(class_names: Any) -> list[str] | None:
    """``class_names`` as a list indexed by class (a ``{name: index}`` dict is inverted)."""
    if class_names is None:
        return None
    if isinstance(class_names, Mapping):
        out = [""] * (max(class_names.values(), default=-1) + 1)
        for name, i in class_names.items():
            out[i] = str(name)
        return out
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise TypeError("`class_names` must be a sequence of names or a {name: index} dict. "
                        f"Received: class_names={class_names!r}")
    return [str(n) for n in class_names]


def _name(i: int, names: list[str] | None) -> str:
    if names is None:
        return str(i)
    if not 0 <= i < len(names):
        raise ValueError(f"`y` holds class index {i}, outside `class_names` "
                         f"({len(names)} names). Received: class_names={names!r}")
    return names[i]


def titles(y: Any, batch: int, class_names: Any = None) -> list[str] | None:
    """One title per image from labels ``y``.

    Args:
        y: None; class indices ``(B,)`` (integers, or integral floats as Keras's sparse/binary
            labels; other floats are shown as numbers); or ``(B, K)`` rows: 0/1 rows with a
            sum other than 1 are multi-hot (the names joined with ","), other rows (one-hot,
            probabilities) give their argmax.
        batch: number of images ``B``.
        class_names: names by index, or a ``{name: index}`` dict; None shows indices.

    Returns:
        ``B`` strings, or None when ``y`` is None.

    Raises:
        ValueError: wrong rank or count of labels, or an index outside ``class_names``.
    """
    if y is None:
        return None
    arr = _to_numpy(y, "y")
    names = _names(class_names)
    if arr.ndim not in (1, 2) or arr.shape[0] != batch:
        raise ValueError(f"`y` must hold one label per image: shape ({batch},) or ({batch}, K). "
                         f"Received: y.shape={arr.shape} for {batch} images")
    if arr.dtype.kind not in "buif":
        return [str(v) for v in arr.tolist()]
    if arr.ndim == 1:
        if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
            return [f"{v:.3g}" for v in arr.tolist()]
        return [_name(int(v), names) for v in arr.tolist()]
    binary = np.isin(arr, (0, 1)).all(axis=1)
    out = []
    for row, is_binary in zip(arr, binary):
        if is_binary and row.sum() != 1:
            out.append(",".join(_name(int(i), names) for i in np.flatnonzero(row)))
        else:
            out.append(_name(int(np.argmax(row)), names))
    return out


def _fit(draw: Any, text: str, width: int, font: Any) -> str:
    """``text`` shortened with ".." until it fits ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "..", font=font) > width:
        text = text[:-1]
    return text + ".."


def grid_image(x: Any, y: Any = None, class_names: Any = None, *, ncols: int = 8,
               data_format: str | None = None) -> Any:
    """The grid of a batch as an RGB ``PIL.Image`` (geometry in the module docstring).

    Args:
        x: images ``(B, C, H, W)`` or ``(B, H, W, C)`` (see ``to_uint8_nhwc``).
        y: labels (see ``titles``) or None for no titles.
        class_names: names by index or a ``{name: index}`` dict.
        ncols: tiles per row (>= 1).
        data_format: force the layout of ``x``; None detects it.

    Returns:
        A ``PIL.Image.Image`` in mode "RGB".

    Raises:
        TypeError, ValueError: see ``to_uint8_nhwc`` and ``titles``; ``ncols`` < 1.
    """
    from PIL import Image, ImageDraw, ImageFont

    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"`ncols` must be an integer >= 1. Received: ncols={ncols!r}")
    imgs = to_uint8_nhwc(x, data_format)
    b, h, w, c = imgs.shape
    names = titles(y, b, class_names)
    band = TITLE_BAND if names is not None else 0
    cols = min(int(ncols), b)
    rows = math.ceil(b / cols)
    canvas = Image.new("RGB", (cols * (w + _PAD) + _PAD, rows * (h + band + _PAD) + _PAD),
                       "white")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[c]
    for i in range(b):
        left = _PAD + (i % cols) * (w + _PAD)
        top = _PAD + (i // cols) * (h + band + _PAD)
        tile = Image.fromarray(imgs[i, ..., 0] if c == 1 else imgs[i], mode).convert("RGB")
        canvas.paste(tile, (left, top))
        if names is not None:
            draw.text((left + 1, top + h + 1), _fit(draw, names[i], w - 2, font),
                      fill="black", font=font)
    return canvas


def save_grid(x: Any, y: Any = None, class_names: Any = None, *, path: str | os.PathLike,
              ncols: int = 8, data_format: str | None = None) -> str:
    """Save a batch as one image grid with PIL (no matplotlib needed).

    Args:
        x: images ``(B, C, H, W)`` or ``(B, H, W, C)``, ``C`` in 1/3/4; float 0..1 or 0..255,
            or uint8; torch tensor or numpy array.
        y: labels ``(B,)`` indices or ``(B, K)`` one-hot / multi-hot rows, or None.
        class_names: names by index or a ``{name: index}`` dict (``ds.class_indices``).
        path: output file; the format follows its extension (PNG, JPEG, ...).
        ncols: tiles per row.
        data_format: force the layout of ``x``; None detects it.

    Returns:
        ``path`` as a string.

    Raises:
        TypeError, ValueError: bad ``x``, ``y``, ``class_names`` or ``ncols`` (see ``grid_image``).
    """
    path = os.fspath(path)
    grid_image(x, y, class_names, ncols=ncols, data_format=data_format).save(path)
    return path


def show_batch(x: Any, y: Any = None, class_names: Any = None, *, ncols: int = 8,
               data_format: str | None = None) -> Any:
    """Show a batch: a matplotlib figure when matplotlib is installed, else the PIL image.

    A notebook displays either return value. The picture is the ``save_grid`` grid.

    Args:
        x, y, class_names, ncols, data_format: as ``save_grid``.

    Returns:
        A ``matplotlib.figure.Figure`` (matplotlib installed: the ``plot`` extra), otherwise
        a ``PIL.Image.Image``.

    Raises:
        TypeError, ValueError: as ``save_grid``.
    """
    img = grid_image(x, y, class_names, ncols=ncols, data_format=data_format)
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return img
    fig = plt.figure(figsize=(img.width / 100, img.height / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(np.asarray(img))
    ax.axis("off")
    return fig
