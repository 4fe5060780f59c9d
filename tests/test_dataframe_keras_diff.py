"""Differential tests of ``flow_from_dataframe`` against Keras's own ``DataFrameIterator``
(keras-semantics §A14, §A16), KERAS_BACKEND=torch, shuffle=False.

Every class_mode (multi-label, raw and multi_output included), weight_col, the
validate_filenames filter and its warning, classes filtering, validation_split / subset and
directory=None with absolute paths: filenames, filepaths, classes, class_indices, labels,
sample weights, batch pixels and labels, the printed line and the warnings must equal Keras's;
for bad arguments, the exception type and message.
"""

from __future__ import annotations

import os
import re
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

pd = pytest.importorskip("pandas")
kimage = pytest.importorskip("keras.src.legacy.preprocessing.image")

import kdir_torch as kt
from imagetree import write_image

pytestmark = pytest.mark.keras

# name, size, mode: PNG/JPEG/BMP/PPM/TIFF, an upper-case extension, a sub-folder
FILES = [("a.png", (12, 16), "RGB"), ("sub/b.jpg", (20, 14), "RGB"), ("c.bmp", (9, 9), "RGB"),
         ("d.PNG", (16, 12), "RGBA"), ("e.ppm", (10, 13), "RGB"), ("f.tif", (11, 17), "L"),
         ("g.png", (15, 15), "P"), ("h.jpeg", (13, 10), "RGB"), ("i.png", (8, 14), "RGB"),
         ("j.png", (14, 8), "RGB")]
# rows Keras drops when validating: missing file, existing non-image name, a folder
INVALID = ["missing.png", "notes.txt", "sub"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    base = tmp_path_factory.mktemp("df")
    for k, (name, (h, w), mode) in enumerate(FILES):
        write_image(str(base / name), h=h, w=w, mode=mode, seed=k)
    (base / "notes.txt").write_text("not an image")
    return str(base)


def _frame():
    names = [f[0] for f in FILES] + INVALID
    n = len(names)
    return pd.DataFrame({
        "filename": names,
        "label": ["cat", "dog", "bird", "dog", "cat", "bird", "dog", "cat", "cat", "dog", "cat",
                  "dog", "bird"],
        "pair": ["yes", "no"] * 6 + ["no"],
        "multi": [["cat", "dog"], "cat", ("dog",), [], ["bird"], "dog", ["dog", "bird", "cat"],
                  ("cat", "cat"), "bird", [], "cat", ["dog"], "bird"],
        "w": np.linspace(0.5, 3.0, n),
        "wi": np.arange(n) % 4,
        "r1": np.arange(n) * 3 - 7,
        "r2": np.linspace(-1, 1, n),
        "bbox": [[k, k + 1, 2 * k, 3] for k in range(n)],
        "flag": [k % 3 == 0 for k in range(n)],
        "num": np.arange(n, dtype=float),
    })


def _run_both(make_keras, make_ours, capsys):
    """Build both iterators, recording their warnings and printed lines."""
    with warnings.catch_warnings(record=True) as k_rec:
        warnings.simplefilter("always")
        k_it = make_keras()
    k_out = capsys.readouterr().out
    with warnings.catch_warnings(record=True) as o_rec:
        warnings.simplefilter("always")
        o_it = make_ours()
    o_out = capsys.readouterr().out
    pick = lambda rec: [(w.category, str(w.message)) for w in rec  # noqa: E731
                        if issubclass(w.category, (UserWarning, DeprecationWarning))]
    return k_it, o_it, (k_out, pick(k_rec)), (o_out, pick(o_rec))


def _flows(df, directory, capsys, validation_split=0.0, **kw):
    kw = dict(dict(shuffle=False, batch_size=64, target_size=(7, 9)), **kw)
    return _run_both(
        lambda: kimage.ImageDataGenerator(validation_split=validation_split)
        .flow_from_dataframe(df.copy(), directory, **kw),
        lambda: kt.ImageDataGenerator(validation_split=validation_split)
        .flow_from_dataframe(df.copy(), directory, **kw),
        capsys)


def _assert_same_batch(k_batch, o_batch):
    if isinstance(k_batch, np.ndarray):  # pixels, labels: same values, shapes and dtypes
        assert isinstance(o_batch, torch.Tensor) and o_batch.numpy().dtype == k_batch.dtype
        np.testing.assert_array_equal(o_batch.numpy(), k_batch)
        return
    if isinstance(k_batch, list):  # multi_output labels
        assert isinstance(o_batch, list) and len(o_batch) == len(k_batch)
        for k, o in zip(k_batch, o_batch):
            assert o.numpy().dtype == k.dtype
            np.testing.assert_array_equal(o.numpy(), k)
        return
    assert isinstance(o_batch, tuple) and len(o_batch) == len(k_batch)
    _assert_same_batch(k_batch[0], o_batch[0])
    _assert_same_batch(k_batch[1], o_batch[1])
    if len(k_batch) == 3:  # weights: Keras's values; ours in the generator dtype (documented)
        np.testing.assert_allclose(o_batch[2].numpy(), k_batch[2].astype(np.float32))
        assert o_batch[2].dtype == torch.float32


def _assert_same(k_it, o_it, class_mode):
    assert list(o_it.filenames) == k_it.filenames
    assert list(o_it.filepaths) == k_it.filepaths
    assert o_it.samples == k_it.samples == o_it.n == k_it.n
    if class_mode in ("categorical", "binary", "sparse"):
        assert o_it.class_indices == k_it.class_indices
        classes = o_it.classes
        assert (classes.tolist() if isinstance(classes, np.ndarray) else classes) == k_it.classes
    if class_mode in ("raw", "multi_output"):
        k_labels, o_labels = k_it.labels, o_it.labels
        for k, o in zip(k_labels if class_mode == "multi_output" else [k_labels],
                        o_labels if class_mode == "multi_output" else [o_labels]):
            assert o.dtype == k.dtype
            np.testing.assert_array_equal(o, k)
    if k_it.sample_weight is None:
        assert o_it.sample_weight is None
    else:  # the column's values and dtype, as Keras
        assert o_it.sample_weight.dtype == k_it.sample_weight.dtype
        np.testing.assert_array_equal(o_it.sample_weight, k_it.sample_weight)
    if k_it.n:
        _assert_same_batch(k_it[0], o_it[0])


CASES = [  # (id, kwargs)  §A14 class modes and options
    ("categorical", dict(y_col="label")),
    ("multi_label", dict(y_col="multi")),
    ("binary", dict(y_col="pair", class_mode="binary")),
    ("sparse", dict(y_col="label", class_mode="sparse")),
    ("input", dict(class_mode="input")),
    ("none", dict(class_mode=None)),
    ("raw_int", dict(y_col="r1", class_mode="raw")),
    ("raw_float", dict(y_col="r2", class_mode="raw")),
    ("raw_bool", dict(y_col="flag", class_mode="raw")),
    ("raw_list", dict(y_col=["r1", "r2"], class_mode="raw")),
    ("multi_output", dict(y_col=["r1", "bbox", "flag"], class_mode="multi_output")),
    ("weights_float", dict(y_col="label", weight_col="w")),
    ("weights_int_sparse", dict(y_col="label", class_mode="sparse", weight_col="wi")),
    ("weights_input", dict(class_mode="input", weight_col="w")),
    ("weights_none", dict(class_mode=None, weight_col="w")),
    ("weights_multi_output", dict(y_col=["r2", "bbox"], class_mode="multi_output",
                                  weight_col="w")),
    ("classes", dict(y_col="label", classes=["dog", "cat", "dog", "zebra"])),
    ("classes_multi", dict(y_col="multi", classes=["dog", "bird"])),
    ("classes_binary", dict(y_col="label", class_mode="binary", classes=["bird", "cat"])),
    ("classes_ignored", dict(y_col="r1", class_mode="raw", classes=["a"])),
    ("split_validation", dict(y_col="label", validation_split=0.4, subset="validation")),
    ("split_training", dict(y_col="multi", validation_split=0.3, subset="training",
                            classes=["cat", "bird"], weight_col="w")),
    ("split_raw", dict(y_col="r1", class_mode="raw", validation_split=0.25,
                       subset="validation")),
    ("gray_bilinear", dict(y_col="label", color_mode="grayscale", interpolation="bilinear")),
    ("rgba_lanczos", dict(y_col="label", color_mode="rgba", interpolation="lanczos",
                          target_size=(5, 11))),
    ("other", dict(y_col="r2", class_mode="other")),
    ("deprecated", dict(y_col="label", has_ext=True, sort=False, drop_duplicates=True)),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_flow_from_dataframe_parity(root, capsys, kwargs):
    k_it, o_it, k_log, o_log = _flows(_frame(), root, capsys, **kwargs)
    assert o_log == k_log and "Found" in k_log[0]
    mode = kwargs.get("class_mode", "categorical")
    _assert_same(k_it, o_it, "raw" if mode == "other" else mode)


def test_absolute_paths_without_directory(root, capsys, monkeypatch, tmp_path):
    """§A14: directory=None joins nothing; absolute names are opened as they are."""
    monkeypatch.chdir(tmp_path)  # relative names would resolve here: none exists
    df = _frame()
    df["filename"] = [os.path.join(root, f) for f in df["filename"]]
    df.loc[3, "filename"] = "a.png"  # relative: invalid from this working directory
    k_it, o_it, k_log, o_log = _flows(df, None, capsys, y_col="label", weight_col="w")
    assert o_log == k_log and k_it.n == len(FILES) - 1
    assert o_it.directory == k_it.directory == ""
    _assert_same(k_it, o_it, "categorical")


def test_non_validated_rows_keep_every_name(root, capsys):
    """validate_filenames=False: no filter, no warning, "non-validated" in the message."""
    df = _frame().iloc[: len(FILES)]
    k_it, o_it, k_log, o_log = _flows(df, root, capsys, y_col="multi",
                                      validate_filenames=False)
    assert o_log == k_log and "non-validated" in k_log[0] and not k_log[1]
    _assert_same(k_it, o_it, "categorical")


def test_relative_directory_and_pixels_channels_first(root, capsys, monkeypatch):
    """A relative directory is joined as is; channels_first generator layout (§A14, §A8)."""
    monkeypatch.chdir(os.path.dirname(root))
    rel = os.path.basename(root)
    gen_kw = dict(data_format="channels_first")
    kw = dict(shuffle=False, batch_size=5, target_size=(6, 8), y_col="label")
    k_it, o_it, k_log, o_log = _run_both(
        lambda: kimage.ImageDataGenerator(**gen_kw).flow_from_dataframe(_frame(), rel, **kw),
        lambda: kt.ImageDataGenerator(**gen_kw).flow_from_dataframe(_frame(), rel, **kw),
        capsys)
    assert o_log == k_log
    _assert_same(k_it, o_it, "categorical")
    _assert_same_batch(k_it[1], o_it[1])


def _keras_set_message(message):
    """Split ``... expected one of: {set}`` (set order is the hash order of one process)."""
    head, _, tail = message.partition("expected one of: ")
    return head, sorted(map(str, eval(tail)))  # noqa: S307 - the repr of a set of str/None


ERRORS = [  # (id, kwargs, frame edit)  §A14 checks and §A16 texts, in Keras's order
    ("class_mode", dict(class_mode="foo"), None),
    ("color_mode", dict(color_mode="cmyk", class_mode="foo"), None),
    ("subset", dict(subset="test", class_mode="foo"), None),
    ("multi_output_str", dict(class_mode="multi_output", y_col="r1"), None),
    ("x_not_str", dict(x_col="num"), None),
    ("x_list", dict(x_col=["filename"]), None),
    ("x_missing", dict(x_col="nope"), None),
    ("binary_list_labels", dict(class_mode="binary", y_col="multi"), None),
    ("binary_three", dict(class_mode="binary", y_col="label"), None),
    ("binary_classes", dict(class_mode="binary", y_col="pair", classes=["a", "b", "c", "a"]),
     None),
    ("sparse_numbers", dict(class_mode="sparse", y_col="r1"), None),
    ("sparse_y_list", dict(class_mode="sparse", y_col=["label"]), None),
    ("categorical_numbers", dict(y_col="r2"), None),
    ("categorical_none", dict(y_col="label"), lambda df: df.assign(label=df.label.where(
        df.index != 2, None))),
    ("y_missing", dict(y_col="nope"), None),
    ("weight_str", dict(y_col="label", weight_col="label"), None),
    ("weight_bool", dict(y_col="label", weight_col="flag"), None),
    ("weight_missing", dict(y_col="label", weight_col="nope"), None),
    ("x_none", dict(y_col="label"), lambda df: df.assign(filename=df.filename.where(
        df.index != 4, None))),
]


@pytest.mark.parametrize("kwargs, edit", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_match_keras(root, kwargs, edit):
    df = _frame() if edit is None else edit(_frame())
    kw = dict(shuffle=False, target_size=(7, 9), **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as k_err:
            kimage.ImageDataGenerator().flow_from_dataframe(df.copy(), root, **kw)
        with pytest.raises(Exception) as o_err:
            kt.ImageDataGenerator().flow_from_dataframe(df.copy(), root, **kw)
    assert type(o_err.value) is type(k_err.value)
    k_msg, o_msg = str(k_err.value), str(o_err.value)
    if "expected one of" in k_msg:
        assert _keras_set_message(o_msg) == _keras_set_message(k_msg)
    else:
        assert o_msg == k_msg


@pytest.mark.filterwarnings("ignore:Found 3 invalid image filename")
def test_raw_strings_are_a_clear_type_error(root):
    """Keras passes a string raw column through as an object array; tensors cannot hold it."""
    with pytest.raises(TypeError, match=re.escape("class_mode=\"raw\", the y_col='label'")):
        kt.ImageDataGenerator().flow_from_dataframe(_frame(), root, y_col="label",
                                                    class_mode="raw")
    with pytest.raises(TypeError, match="multi_output"):
        kt.ImageDataGenerator().flow_from_dataframe(_frame(), root, y_col=["r1", "label"],
                                                    class_mode="multi_output")
