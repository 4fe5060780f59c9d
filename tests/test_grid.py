"""``kt.save_grid`` / ``kt.show_batch``: layouts, dtypes, label forms, geometry, errors."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image

import kdir_torch as kt
from kdir_torch.grid import TITLE_BAND, grid_image, titles, to_uint8_nhwc


def _size(b, h, w, ncols, band):
    cols = min(ncols, b)
    rows = -(-b // cols)
    return cols * (w + 2) + 2, rows * (h + band + 2) + 2


def _batch(b=5, h=12, w=10, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(b, h, w, c), dtype=np.uint8)


@pytest.mark.parametrize("c", [1, 3, 4])
@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("kind", ["uint8", "float01", "float255", "int64"])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_layouts_and_dtypes_give_the_same_pixels(c, layout, kind, as_tensor):
    ref = _batch(c=c)
    x = {"uint8": ref, "float01": ref / 255.0, "float255": ref.astype(np.float32),
         "int64": ref.astype(np.int64)}[kind]
    if layout == "first":
        x = x.transpose(0, 3, 1, 2)
    if as_tensor:
        x = torch.from_numpy(np.ascontiguousarray(x))
    np.testing.assert_array_equal(to_uint8_nhwc(x), ref)


def test_ambiguous_layout_follows_the_source_and_data_format_forces_it():
    x = _batch(b=2, h=3, w=4, c=3)  # (2, 3, 4, 3): axis 1 and axis 3 are both 3
    np.testing.assert_array_equal(to_uint8_nhwc(x), x)  # numpy: channels_last (Keras)
    t = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())  # (2, 3, 3, 4) is not ambiguous
    np.testing.assert_array_equal(to_uint8_nhwc(t), x)
    amb = torch.from_numpy(x)  # tensor (2, 3, 4, 3): channels_first -> (2, 4, 3, 3)
    assert to_uint8_nhwc(amb).shape == (2, 4, 3, 3)
    np.testing.assert_array_equal(to_uint8_nhwc(amb, "channels_last"), x)


def test_out_of_range_floats_are_clipped_and_nan_is_zero():
    x = np.array([[[[-5.0], [300.0], [np.nan], [2.0]]]])  # (1, 1, 4, 1)
    assert to_uint8_nhwc(x, "channels_last").ravel().tolist() == [0, 255, 0, 2]


@pytest.mark.parametrize("b,ncols", [(5, 8), (5, 2), (16, 4), (1, 3), (7, 7)])
def test_png_decodes_with_the_grid_size(tmp_path, b, ncols):
    x = torch.rand(b, 3, 12, 10)
    y = torch.arange(b) % 3
    out = kt.save_grid(x, y, ["cat", "dog", "emu"], path=tmp_path / "g.png", ncols=ncols)
    assert out == str(tmp_path / "g.png")
    with Image.open(out) as im:
        im.load()
        assert im.size == _size(b, 12, 10, ncols, TITLE_BAND) and im.mode == "RGB"


def test_no_labels_no_title_band_and_tiles_are_pasted_in_order(tmp_path):
    x = _batch(b=3, h=6, w=5)
    path = kt.save_grid(x, path=tmp_path / "g.png", ncols=2)
    arr = np.asarray(Image.open(path))
    assert arr.shape == (2 * (6 + 2) + 2, 2 * (5 + 2) + 2, 3)
    np.testing.assert_array_equal(arr[2:8, 2:7], x[0])
    np.testing.assert_array_equal(arr[2:8, 9:14], x[1])
    np.testing.assert_array_equal(arr[10:16, 2:7], x[2])
    assert (arr[10:16, 9:14] == 255).all()  # the missing fourth tile stays white


def test_titles_are_drawn_in_the_band(tmp_path):
    x = np.zeros((2, 20, 40, 3), np.uint8)
    arr = np.asarray(grid_image(x, [0, 1], ["a", "b"]))
    band = arr[2 + 20 : 2 + 20 + TITLE_BAND, 2 : 2 + 40]
    assert (band < 128).any()  # black text on the white band
    plain = np.asarray(grid_image(x))
    assert plain.shape[0] == arr.shape[0] - TITLE_BAND


@pytest.mark.parametrize("y,names,expected", [
    ([2, 0], ["a", "b", "c"], ["c", "a"]),
    (np.array([1.0, 0.0], np.float32), ["no", "yes"], ["yes", "no"]),  # Keras binary labels
    (torch.tensor([[0, 1, 0], [1, 0, 0]]), ["a", "b", "c"], ["b", "a"]),  # one-hot
    (np.array([[0.2, 0.7, 0.1], [0.5, 0.3, 0.2]]), ["a", "b", "c"], ["b", "a"]),  # probs
    (np.array([[1, 0, 1], [0, 0, 0]]), ["a", "b", "c"], ["a,c", ""]),  # multi-hot
    ([3, 1], None, ["3", "1"]),
    ([1, 0], {"cat": 0, "dog": 1}, ["dog", "cat"]),  # class_indices dict
    (np.array([0.25, 1.5]), None, ["0.25", "1.5"]),  # raw regression targets
])
def test_label_forms(y, names, expected):
    assert titles(y, 2, names) == expected


def test_show_batch_without_matplotlib_returns_the_pil_grid(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    img = kt.show_batch(torch.rand(3, 1, 8, 8), [0, 1, 0], ["a", "b"], ncols=2)
    assert isinstance(img, Image.Image) and img.size == _size(3, 8, 8, 2, TITLE_BAND)


def test_show_batch_with_matplotlib_draws_the_grid_on_a_figure(monkeypatch):
    calls = {}

    class Ax:
        def imshow(self, a):
            calls["imshow"] = a

        def axis(self, v):
            calls["axis"] = v

    class Fig:
        def add_axes(self, rect):
            return Ax()

    def figure(figsize, dpi):
        calls["figsize"] = figsize
        return Fig()

    pyplot = types.SimpleNamespace(figure=figure)
    mpl = types.ModuleType("matplotlib")
    mpl.pyplot = pyplot
    monkeypatch.setitem(sys.modules, "matplotlib", mpl)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", pyplot)
    fig = kt.show_batch(_batch(b=2, h=8, w=8), ncols=2)
    assert isinstance(fig, Fig)
    assert calls["imshow"].shape == (8 + 4, 2 * 10 + 2, 3) and calls["axis"] == "off"
    assert calls["figsize"] == (0.22, 0.12)


@pytest.mark.parametrize("x,exc,match", [
    (np.zeros((3, 8, 8)), ValueError, r"`x` must be a 4-D batch .*Received: x.shape=\(3, 8, 8\)"),
    (np.zeros((2, 5, 8, 8)), ValueError, r"C in 1, 3 or 4 channels. Received: x.shape=\(2, 5, 8, 8\)"),
    (np.zeros((0, 3, 8, 8)), ValueError, "at least one image"),
    (np.array([[[["a"]]]]), TypeError, "integer or float pixels. Received: x.dtype="),
    (np.zeros((2, 8, 8, 3), bool), TypeError, "Received: x.dtype=bool"),
])
def test_bad_images(tmp_path, x, exc, match):
    with pytest.raises(exc, match=match):
        kt.save_grid(x, path=tmp_path / "g.png")


def test_bad_data_format_and_forced_axis_without_channels():
    with pytest.raises(ValueError, match="`data_format` must be"):
        to_uint8_nhwc(np.zeros((1, 3, 4, 4)), "nchw")
    with pytest.raises(ValueError, match=r"channels on its channels_last axis. Received: x.shape"):
        to_uint8_nhwc(np.zeros((1, 3, 5, 5)), "channels_last")


@pytest.mark.parametrize("y,names,match", [
    ([0, 1], None, r"one label per image: shape \(3,\) or \(3, K\). Received: y.shape=\(2,\)"),
    (np.zeros((3, 2, 2)), None, r"Received: y.shape=\(3, 2, 2\)"),
    ([0, 1, 5], ["a", "b"], "class index 5, outside `class_names` \\(2 names\\)"),
])
def test_bad_labels(y, names, match):
    with pytest.raises(ValueError, match=match):
        kt.show_batch(np.zeros((3, 4, 4, 3)), y, names)


def test_bad_class_names_and_ncols(tmp_path):
    with pytest.raises(TypeError, match="`class_names` must be a sequence"):
        kt.save_grid(np.zeros((1, 4, 4, 3)), [0], "ab", path=tmp_path / "g.png")
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="`ncols` must be an integer >= 1"):
            kt.save_grid(np.zeros((1, 4, 4, 3)), path=tmp_path / "g.png", ncols=bad)
