"""Opening image files safely: regular files only, decoded only by the expected PIL plugins.

Two guards sit in front of every decode (docs/robustness.md):

* **Regular files only.** A FIFO, socket or device file named ``x.jpg`` would block a reader
  forever (or read an endless stream). The file is opened with ``O_NONBLOCK`` (which returns at
  once even for a FIFO without a writer) and ``fstat``-ed; anything but a regular file is
  refused before a byte is read.
* **Only the formats the extension list stands for.** PIL sniffs the content, so an EPS file
  named ``.png`` would start Ghostscript, and TGA, ICO, SGI, PCX, WebP or IM content behind
  an image extension would decode. ``Image.open(..., formats=...)`` restricts the plugins
  tried; other content fails with an error naming the format PIL detects in it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

#: PIL plugins for Keras's legacy extensions (png jpg jpeg bmp ppm tif tiff); the JPEG plugin
#: also opens the multi-picture JPEGs (MPO) many cameras write.
LEGACY_FORMATS = ("PNG", "JPEG", "BMP", "PPM", "TIFF")
#: PIL plugins for the modern API's extensions (bmp gif jpeg jpg png).
MODERN_FORMATS = ("PNG", "JPEG", "GIF", "BMP")

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a directory"))
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
    | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


class ForeignFormatError(UnidentifiedImageError):
    """The file holds an image format that is not among the accepted ones.

    Attributes:
        format: the PIL format id detected in the content (e.g. ``"EPS"``, ``"WEBP"``).
    """

    def __init__(self, path: str, found: str, formats: tuple[str, ...]) -> None:
        super().__init__(f"{path!r} holds {found} data, which is not decoded here: only "
                         f"{', '.join(formats)} content is accepted behind these extensions")
        self.format = found


def open_regular(path: str) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file (symlinks followed).

    Raises:
        OSError: missing or unreadable, or not a regular file (the message says what it is).
    """
    fd = os.open(path, _FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise OSError(f"{path!r} is {kind}, not a regular file; only regular files are "
                          "read as images")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def detect_format(prefix: bytes) -> str | None:
    """The PIL format whose signature check accepts ``prefix`` (first bytes), or None.

    Only the plugins' ``accept`` functions run (pure byte tests); nothing is decoded.
    """
    Image.init()
    for name in Image.ID:
        accept = Image.OPEN[name][1]
        if accept is not None and accept(prefix):
            return name
    return None


@contextmanager
def open_image(path: str | os.PathLike | BinaryIO,
               formats: tuple[str, ...] | None) -> Iterator[Image.Image]:
    """``with open_image(path, formats) as img``: a lazily decoded PIL image.

    Args:
        path: image file (must be a regular file), or an open binary file object.
        formats: PIL format ids allowed to decode it (``LEGACY_FORMATS``/``MODERN_FORMATS``);
            None lets PIL try every format it knows (Keras's ``load_img``).

    Raises:
        OSError: not a regular file, missing or unreadable.
        ForeignFormatError: the content is a format PIL knows that is not in ``formats``.
        PIL.UnidentifiedImageError: the content is not recognised (or is a broken file).
    """
    with nullcontext(path) if hasattr(path, "read") else open_regular(os.fspath(path)) as fp:
        try:
            img = Image.open(fp, formats=formats)
        except UnidentifiedImageError:
            fp.seek(0)
            found = detect_format(fp.read(16))
            if found is None or formats is None or found in formats:  # unknown, or broken
                raise
            raise ForeignFormatError(getattr(fp, "name", repr(path)), found, formats) from None
        with img:
            yield img
