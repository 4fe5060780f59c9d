"""Exceptions raised by kdir_torch."""

from __future__ import annotations


class ImageDecodeError(OSError):
    """An image file could not be read or decoded.

    Attributes:
        path: the file that failed.
        index: the dataset index of the sample (None when unknown).
    """

    def __init__(self, path: str, index: int | None, cause: BaseException | None = None) -> None:
        where = f"sample {index}" if index is not None else "image"
        reason = f": {type(cause).__name__}: {cause}" if cause is not None else ""
        super().__init__(f"Could not decode {where} from file {path!r}{reason}")
        self.path = path
        self.index = index

    def __reduce__(self):  # keep path/index when pickled across worker processes
        return (_rebuild, (self.args[0], self.path, self.index))


def _rebuild(message: str, path: str, index: int | None) -> ImageDecodeError:
    err = ImageDecodeError.__new__(ImageDecodeError)
    OSError.__init__(err, message)
    err.path, err.index = path, index
    return err
