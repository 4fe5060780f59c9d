"""``io.pil_resize`` equals PIL's ``Image.resize`` bit for bit (keras-semantics §A8.3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from kdir_torch.io import PIL_FILTERS, crop_box
from kdir_torch.io.pil_resize import FILTERS, resize

SIZES = [((37, 53), (13, 71)), ((64, 64), (32, 32)), ((5, 3), (3, 5)), ((120, 90), (90, 120)),
         ((17, 200), (224, 224)), ((80, 40), (20, 30)), ((40, 40), (3, 30)), ((9, 9), (1, 1))]


@pytest.mark.parametrize("interpolation", FILTERS)
@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("channels", [1, 3])
def test_matches_pil(interpolation, keep, channels):
    """Every filter, with and without Keras's crop box; the sizes include both pass orders
    of Pillow 13 (height shrinking by more than twice the width's pixels: vertical first)."""
    rng = np.random.default_rng(channels)
    for (h, w), (th, tw) in SIZES:
        arr = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
        img = Image.fromarray(arr[..., 0] if channels == 1 else arr)
        box = crop_box(w, h, tw, th) if keep else None
        want = np.asarray(img.resize((tw, th), PIL_FILTERS[interpolation], box=box))
        got = resize(torch.from_numpy(arr.transpose(2, 0, 1).copy()), (th, tw), interpolation,
                     box)
        assert got.dtype == torch.uint8
        np.testing.assert_array_equal(got.numpy().transpose(1, 2, 0).reshape(want.shape), want,
                                      err_msg=f"{(h, w)} -> {(th, tw)} box={box}")


def test_batched_and_argument_errors():
    x = torch.randint(0, 256, (2, 3, 10, 12), dtype=torch.uint8)
    out = resize(x, (5, 7), "bilinear")
    assert out.shape == (2, 3, 5, 7) and torch.equal(out[1], resize(x[1], (5, 7), "bilinear"))
    with pytest.raises(ValueError, match="`interpolation` must be one of"):
        resize(x, (5, 7), "area")
    with pytest.raises(ValueError, match="uint8"):
        resize(x.float(), (5, 7), "bilinear")
