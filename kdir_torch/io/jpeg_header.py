"""Which JPEG files a GPU decoder (nvJPEG) or torchvision's CPU decoder may take: a byte scan.

``make_loader(decode_on="device")`` sends a file's bytes to the GPU only when this scan says
the decoders agree on it; every other file is decoded on the host exactly as without the
option (PIL), so error behaviour and colour conversions stay the CPU path's:

* content starting with a JPEG signature (``FF D8 FF``, what PIL's plugin accepts),
* a baseline, extended-sequential or progressive Huffman frame (SOF0/SOF1/SOF2; lossless,
  hierarchical and arithmetic-coded frames are left to the host),
* 8-bit samples, 1 (grayscale) or 3 components (YCbCr: an Adobe APP14 segment with
  transform 0, i.e. RGB-coded, is left to the host; so are CMYK/YCCK 4-component files),
* an end-of-image marker at the end (trailing zero padding allowed): a truncated file
  goes to PIL, which rejects it, whatever a GPU decoder would make of it.
"""

from __future__ import annotations

_SOF_OK = (0xC0, 0xC1, 0xC2)
_SOF_OTHER = (0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)
_STANDALONE = {0x01, 0xD8, *range(0xD0, 0xD8)}


def gpu_components(data: bytes | memoryview) -> int | None:
    """The component count (1 or 3) of a JPEG file a GPU decoder may take, else None.

    Args:
        data: the whole file.

    Returns:
        1 (grayscale) or 3 (YCbCr colour) when every condition of the module docstring
        holds; None for anything else (not a JPEG, another frame type, CMYK, truncated, ...).
    """
    found = frame(data)
    return None if found is None else found[0]


def frame(data: bytes | memoryview) -> tuple[int, int, int] | None:
    """``(components, height, width)`` of a JPEG file the decoders may take, else None.

    As :func:`gpu_components`, with the frame's size from its SOF segment (a frame whose
    height is left to a later DNL marker, 0 here, is not taken).
    """
    data = memoryview(data)
    n = len(data)
    if n < 4 or data[0] != 0xFF or data[1] != 0xD8 or data[2] != 0xFF:
        return None
    end = n
    while end > 2 and data[end - 1] == 0:
        end -= 1
    if data[end - 2] != 0xFF or data[end - 1] != 0xD9:
        return None
    pos, adobe_rgb, components, height, width = 2, False, None, 0, 0
    while pos + 4 <= n and components is None:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        length = (data[pos + 2] << 8) | data[pos + 3]
        segment = data[pos + 4:pos + 2 + length]
        if marker == 0xEE and bytes(segment[:5]) == b"Adobe" and len(segment) >= 12:
            adobe_rgb = segment[11] == 0
        elif marker in _SOF_OK:
            if len(segment) < 6 or segment[0] != 8:
                return None
            components = segment[5]
            height = (segment[1] << 8) | segment[2]
            width = (segment[3] << 8) | segment[4]
        elif marker in _SOF_OTHER or marker == 0xDA:  # other frames, or scan data first
            return None
        pos += 2 + length
    if height > 0 and width > 0 and (components == 1 or (components == 3 and not adobe_rgb)):
        return components, height, width
    return None
