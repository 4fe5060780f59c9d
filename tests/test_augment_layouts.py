"""The bilinear path reads a channels_last batch as it is: the pixels are those of the
contiguous batch, bit for bit (keras-semantics §A11.3 semantics unchanged by the layout)."""

from __future__ import annotations

import pytest
import torch

from kdir_torch.augment import Augment


@pytest.mark.parametrize("mode", ["constant", "nearest", "reflect", "wrap"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channels_last_input_gives_the_same_pixels(mode: str, channels: int) -> None:
    g = torch.Generator().manual_seed(channels)
    x = torch.rand(5, channels, 13, 19, generator=g) * 255
    aug = Augment(rotation_range=25, width_shift_range=0.2, height_shift_range=[1, 2],
                  zoom_range=0.3, horizontal_flip=True, fill_mode=mode, cval=-4.0, seed=1)
    ref = aug(x, torch.arange(5))
    got = aug(x.contiguous(memory_format=torch.channels_last), torch.arange(5))
    assert torch.equal(got, ref)
    assert not torch.equal(ref, x)  # the samples did move
