"""Reduced-DCT JPEG decoding (``jpeg_draft=True``, not a Keras option).

libjpeg can run its inverse DCT at 1/2, 1/4 or 1/8 of the image size, which costs a fraction of
a full decode on large photos. The loaders ask for the **smallest** such image that still covers
the region they resize at no less than the target resolution, then resize it with the requested
filter. Pixels are close to, but not those of, a full decode (README, "Reduced-DCT JPEG
decoding", gives the measured difference).

How Pillow picks the scale (``JpegImageFile.draft(mode, (w, h))``, Pillow 10-13): with
``k = min(W // w, H // h)`` the scale ``s`` is the largest of 8, 4, 2, 1 not above ``k``; the
image becomes ``(ceil(W / s), ceil(H / s))`` and reduced pixel ``i`` covers source pixels
``[i s, (i + 1) s)``. ``mode`` changes the decoder's output only from RGB to L or YCbCr (None
keeps it). Only the first call on an image has an effect, so one call must ask for both the
mode and the size. ``request_draft`` passes ``(W // s, H // s)``, for which Pillow's rule
gives back exactly ``s`` (``W // (W // s)`` lies in ``[s, 2 s)``).
"""

from __future__ import annotations

from PIL import Image

#: PIL formats decoded by libjpeg (MPO: multi-picture JPEGs from cameras).
DRAFT_FORMATS = ("JPEG", "MPO")
SCALES = (8, 4, 2)


def draft_scale(region_w: int, region_h: int, target_w: int, target_h: int) -> int:
    """The largest DCT scale ``s`` in (8, 4, 2, 1) that keeps a region at >= target size.

    Args:
        region_w, region_h: size in source pixels of the part of the image that is resized.
        target_w, target_h: size it is resized to.

    Returns:
        ``s`` with ``region_w >= s * target_w`` and ``region_h >= s * target_h`` (1: no
        reduction, also for an empty target).
    """
    if target_w < 1 or target_h < 1:
        return 1
    k = min(region_w // target_w, region_h // target_h)
    return next((s for s in SCALES if k >= s), 1)


def request_draft(img: Image.Image, scale: int, mode: str | None = None) -> int:
    """Ask the JPEG decoder of a not yet loaded ``img`` for ``1 / scale`` and/or ``mode``.

    Nothing is asked when ``scale`` is 1 and ``mode`` is None, or when ``img`` is not a JPEG,
    so the decode stays exactly the full one.

    Args:
        img: a lazily opened PIL image (``load()`` not yet called).
        scale: 1, 2, 4 or 8 (from ``draft_scale``).
        mode: decoder output mode ("L" for the Y plane), or None to keep the file's.

    Returns:
        The scale the decoder will use (1 when none was granted); ``img.size`` is then the
        reduced size ``(ceil(W / s), ceil(H / s))``.
    """
    if img.format not in DRAFT_FORMATS or (scale == 1 and mode is None):
        return 1
    width, height = img.size
    size = (width // scale, height // scale) if scale > 1 else None
    granted = img.draft(mode, size)
    if granted is None or size is None:
        return 1
    return int(round(width / granted[1][2]))
