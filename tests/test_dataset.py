"""KerasDirDataset: labels (§A9), shapes, attributes (§A4), validation (§A2, §A16), bad files."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import kdir_torch as kt
from imagetree import make_tree, write_image

SPEC = {"cat": ["0.png", "1.png", "2.png"], "dog": ["0.png", "1.png"], "emu": []}


@pytest.fixture
def tree(tmp_path):
    return make_tree(str(tmp_path / "root"), SPEC, h=10, w=14)


@pytest.mark.parametrize(
    "class_mode, shape, dtype, values",
    [
        ("categorical", (5, 3), torch.float32, [[1, 0, 0]] * 3 + [[0, 1, 0]] * 2),
        ("binary", (5,), torch.float32, [0, 0, 0, 1, 1]),
        ("sparse", (5,), torch.float32, [0, 0, 0, 1, 1]),
    ],
)
def test_label_tables(tree, class_mode, shape, dtype, values):  # §A9
    ds = kt.KerasDirDataset(tree, target_size=(8, 8), class_mode=class_mode, verbose=False)
    x, y = next(iter(DataLoader(ds, batch_size=5, shuffle=False)))
    assert x.shape == (5, 3, 8, 8) and x.dtype == torch.float32
    assert y.shape == shape and y.dtype == dtype
    assert y.tolist() == [[float(v) for v in r] for r in values] if y.ndim == 2 else y.tolist() == values


def test_input_and_none_modes(tree):  # §A9
    ds = kt.KerasDirDataset(tree, target_size=(8, 8), class_mode="input", verbose=False)
    x, y = ds[0]
    assert torch.equal(x, y) and x.data_ptr() != y.data_ptr()
    y += 1
    assert not torch.equal(x, y)
    ds_none = kt.KerasDirDataset(tree, target_size=(8, 8), class_mode=None, verbose=False)
    assert isinstance(ds_none[0], torch.Tensor) and ds_none[0].shape == (3, 8, 8)


def test_attributes_and_print(tree, capsys):  # §A4 attribute table
    ds = kt.KerasDirDataset(tree, target_size=(6, 9), color_mode="grayscale")
    assert capsys.readouterr().out == "Found 5 images belonging to 3 classes.\n"
    assert ds.class_indices == {"cat": 0, "dog": 1, "emu": 2} and ds.num_classes == 3
    assert ds.class_names == ["cat", "dog", "emu"]
    assert list(ds.filenames) == [os.path.join(c, f) for c in SPEC for f in SPEC[c]]
    assert list(ds.filepaths) == [os.path.join(tree, f) for f in ds.filenames]
    assert ds.classes.dtype == np.int32 and ds.classes.tolist() == [0, 0, 0, 1, 1]
    assert ds.labels is ds.classes and ds.samples == len(ds) == 5 and ds.directory == tree
    assert ds.image_shape == (1, 6, 9) and ds[0][0].shape == (1, 6, 9)
    last = kt.KerasDirDataset(tree, target_size=(6, 9), data_format="channels_last", verbose=False)
    assert last.image_shape == (6, 9, 3) and last[0][0].shape == (6, 9, 3)
    assert torch.equal(last[4][0], ds_rgb(tree)[4][0].permute(1, 2, 0))


def ds_rgb(tree):
    return kt.KerasDirDataset(tree, target_size=(6, 9), verbose=False)


def test_target_size_none_keeps_size_and_dtype(tree):  # §A8.3
    ds = kt.KerasDirDataset(tree, target_size=None, dtype="float64", verbose=False)
    x, y = ds[1]
    assert x.shape == (3, 10, 14) and x.dtype == torch.float64 and y.dtype == torch.float64
    assert ds.image_shape == (3, None, None)


def test_subset_split(tree):  # §A5
    val = kt.KerasDirDataset(tree, target_size=(4, 4), validation_split=0.5, subset="validation", verbose=False)
    tr = kt.KerasDirDataset(tree, target_size=(4, 4), validation_split=0.5, subset="training", verbose=False)
    nosub = kt.KerasDirDataset(tree, target_size=(4, 4), validation_split=0.5, verbose=False)
    assert list(val.filenames) == [os.path.join("cat", "0.png"), os.path.join("dog", "0.png")]
    assert len(tr) == 3 and len(nosub) == 5 and val.num_classes == tr.num_classes == 3


@pytest.mark.parametrize(
    "kwargs, exc, message",
    [  # §A16 texts
        (dict(color_mode="hsv"), ValueError, 'Invalid color mode: hsv; expected "rgb", "rgba", or "grayscale".'),
        (dict(subset="test", validation_split=0.2), ValueError, 'Invalid subset name: test;expected "training" or "validation"'),
        (dict(class_mode="multi"), ValueError, "Invalid class_mode: multi; expected one of: "),
        (dict(validation_split=1.5), ValueError, "`validation_split` must be strictly between 0 and 1.  Received: 1.5"),
        (dict(validation_split=None, subset="training"), TypeError, "`validation_split` must be a number when `subset` is set"),
        (dict(data_format="NCHW"), ValueError, '`data_format` should be `"channels_last"`'),
        (dict(target_size=(0, 3)), ValueError, "`target_size` must be None or a tuple of 2 positive integers"),
        (dict(dtype=torch.int32), ValueError, "`dtype` must be a floating torch dtype"),
        (dict(on_error="ignore"), ValueError, "`on_error` must be one of"),
        (dict(keep_aspect_ratio=1), TypeError, "`keep_aspect_ratio` must be a bool"),
    ],
)
def test_validation_messages(tmp_path, kwargs, exc, message):
    # Validation happens before touching the disk: the directory does not even exist.
    # (`interpolation` is not among them: Keras checks it only when a file needs resizing,
    # §A2; see tests/test_parity_bugs.py.)
    with pytest.raises(exc, match=re.escape(message)):
        kt.KerasDirDataset(str(tmp_path / "missing"), verbose=False, **kwargs)


def test_bad_file_names_path_and_index(tree):  # DESIGN "Errors and bad input"
    bad = os.path.join(tree, "dog", "1.png")
    with open(bad, "wb") as f:
        f.write(b"not an image")
    ds = kt.KerasDirDataset(tree, target_size=(4, 4), verbose=False)
    with pytest.raises(kt.ImageDecodeError, match=re.escape(f"sample 4 from file {bad!r}")) as info:
        ds[4]
    assert info.value.path == bad and info.value.index == 4
    import pickle
    again = pickle.loads(pickle.dumps(info.value))
    assert again.path == bad and again.index == 4 and str(again) == str(info.value)


def test_negative_and_out_of_range_index(tree):
    ds = kt.KerasDirDataset(tree, target_size=(4, 4), class_mode="sparse", verbose=False)
    assert ds[-1][1].item() == 1.0
    with pytest.raises(IndexError):
        ds[5]


def test_sixteen_bit_grayscale_kept(tmp_path):  # §A8.2: I;16 stays 0..65535 in grayscale
    root = str(tmp_path / "r")
    write_image(os.path.join(root, "a", "x.png"), mode="I;16")
    ds = kt.KerasDirDataset(root, target_size=None, color_mode="grayscale", verbose=False)
    raw = ds.load_raw(0)
    assert raw.dtype == torch.int32 and raw.max() > 255
    assert ds[0][0].max() == raw.max().float()
