"""Directory indexing rules: keras-semantics §A3 (classes), §A4 (files), §A5 (split), §B2/§B3 (modern)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import kdir_torch as kt
from kdir_torch.index import StringTable
from imagetree import touch


def build(root, files):
    for f in files:
        if f.endswith("/"):
            os.makedirs(os.path.join(root, f), exist_ok=True)
        else:
            touch(os.path.join(root, f))
    return str(root)


def names(idx):
    return [f.replace(os.sep, "/") for f in idx.filenames]


# §A3: plain code-point sort of class folders, files in the root ignored, empty folders are classes.
@pytest.mark.parametrize(
    "dirs, expected",
    [
        (["Class_2/", "Class_10/", "class_1/", "a_lower/"], ["Class_10", "Class_2", "a_lower", "class_1"]),
        (["z/", "é/", "A/", "_/"], ["A", "_", "z", "é"]),
        (["b/", "a/", "root.png"], ["a", "b"]),
    ],
)
def test_class_sort_order(tmp_path, dirs, expected):
    idx = kt.index_directory(build(tmp_path, dirs))
    assert list(idx.class_names) == expected
    assert idx.class_indices == {n: i for i, n in enumerate(expected)}
    assert len(idx) == 0 and idx.num_classes == len(expected)


def test_hidden_top_level_folder_is_a_class_with_warning(tmp_path):  # §A3, DESIGN decision
    root = build(tmp_path, [".ipynb_checkpoints/x.png", "cat/a.png"])
    with pytest.warns(UserWarning, match=r"Hidden folder '\.ipynb_checkpoints'"):
        idx = kt.index_directory(root)
    assert list(idx.class_names) == [".ipynb_checkpoints", "cat"]
    assert names(idx) == [".ipynb_checkpoints/x.png", "cat/a.png"]


def test_modern_skips_hidden_and_uses_dotted_extensions(tmp_path):  # §B2, §B3
    root = build(tmp_path, [".hid/x.png", "a/1.png", "a/2.gif", "a/3.tif", "a/4.ppm", "a/filepng",
                            "a/5.JPEG", "a/6.bmp", "a/7.webp"])
    idx = kt.index_directory(root, formats="modern")
    assert list(idx.class_names) == ["a"]
    assert names(idx) == ["a/1.png", "a/2.gif", "a/5.JPEG", "a/6.bmp"]


# §A4.3: lower().endswith without the dot.
@pytest.mark.parametrize(
    "fname, kept",
    [("a.png", True), ("a.PnG", True), ("a.JPG", True), ("a.jpeg", True), ("a.bmp", True),
     ("a.ppm", True), ("a.tif", True), ("a.TIFF", True), ("filepng", True), ("file.apng", True),
     ("a.gif", False), ("a.webp", False), ("a.png.txt", False), (".hidden.png", True)],
)
def test_legacy_extension_rule(tmp_path, fname, kept):
    root = build(tmp_path, ["c/" + fname])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idx = kt.index_directory(root)
    assert (len(idx) == 1) is kept


def test_walk_order_is_by_root_string_not_depth_first(tmp_path):  # §A4.1, §A4.2
    files = ["c/sub/deep/d.png", "c/sub0/e.png", "c/sub.b/c.png", "c/sub-a/b.png", "c/sub/a.png",
             "c/top.png", "c/10.png", "c/2.png", "c/Z.png", "c/_.png", "c/a.png", "c/é.png"]
    idx = kt.index_directory(build(tmp_path, files))
    assert names(idx) == [
        "c/10.png", "c/2.png", "c/Z.png", "c/_.png", "c/a.png", "c/top.png", "c/é.png",
        "c/sub/a.png", "c/sub-a/b.png", "c/sub.b/c.png", "c/sub/deep/d.png", "c/sub0/e.png",
    ]
    assert idx.filepaths[0] == os.path.join(str(tmp_path), "c", "10.png")


def test_directory_named_like_an_image_is_walked(tmp_path):  # §A4.4
    idx = kt.index_directory(build(tmp_path, ["c/x.png/inner.png"]))
    assert names(idx) == ["c/x.png/inner.png"]


def test_tiff_warning_once_per_file(tmp_path):  # §A4.3
    root = build(tmp_path, ["c/a.tiff", "c/b.TIFF", "c/c.tif"])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ResourceWarning)  # Keras leaks ThreadPools
        kt.index_directory(root)
    msgs = [str(w.message) for w in rec if "tiff" in str(w.message)]
    assert msgs == ['Using ".tiff" files with multiple bands will cause distortion. Please verify your output.'] * 2


def test_symlinks(tmp_path):  # §A3 (linked class dir), §A4.4/§A4.5 (linked files and sub-dirs)
    outside = build(tmp_path / "outside", ["o1.png", "o2.png"])
    root = tmp_path / "root"
    build(root, ["a/x.png"])
    os.symlink(os.path.join(outside, "o1.png"), root / "a" / "link.png")
    os.symlink(outside, root / "a" / "linkdir")
    os.symlink(outside, root / "linkedclass")
    plain = kt.index_directory(str(root))
    assert list(plain.class_names) == ["a", "linkedclass"]
    assert names(plain) == ["a/link.png", "a/x.png", "linkedclass/o1.png", "linkedclass/o2.png"]
    followed = kt.index_directory(str(root), follow_links=True)
    assert names(followed) == ["a/link.png", "a/x.png", "a/linkdir/o1.png", "a/linkdir/o2.png",
                               "linkedclass/o1.png", "linkedclass/o2.png"]


def test_explicit_classes(tmp_path):  # §A3 explicit list
    root = build(tmp_path, ["a/1.png", "b/1.png", "b/2.png"])
    idx = kt.index_directory(root, classes=["b", "missing", "a"])
    assert list(idx.class_names) == ["b", "missing", "a"]
    assert idx.classes.tolist() == [0, 0, 2] and idx.classes.dtype == np.int32
    chars = kt.index_directory(root, classes="ab")  # a string is iterated character by character
    assert list(chars.class_names) == ["a", "b"]
    dup = kt.index_directory(root, classes=["a", "b", "a"])  # last index wins, files listed twice
    assert dup.class_indices == {"a": 2, "b": 1} and dup.num_classes == 3
    assert names(dup) == ["a/1.png", "b/1.png", "b/2.png", "a/1.png"]
    assert dup.classes.tolist() == [2, 1, 1, 2]
    with pytest.raises(ValueError, match="nested path"):
        kt.index_directory(root, classes=["a/sub"])


def test_missing_directory(tmp_path):  # §A3
    with pytest.raises(FileNotFoundError):
        kt.index_directory(str(tmp_path / "nope"))
    assert len(kt.index_directory(str(tmp_path / "nope"), classes=["a"])) == 0


@pytest.mark.parametrize(
    "split, expected",
    [  # §A5 example: a(7), b(3), c(1)
        ((0, 0.3), ["a/00", "a/01"]),
        ((0.3, 1), ["a/02", "a/03", "a/04", "a/05", "a/06", "b/00", "b/01", "b/02", "c/00"]),
        ((0, 0.5), ["a/00", "a/01", "a/02", "b/00"]),
        ((0, 0.0), []),
        ((0.0, 1), ["a/0%d" % i for i in range(7)] + ["b/00", "b/01", "b/02", "c/00"]),
    ],
)
def test_legacy_split(tmp_path, split, expected):
    files = [f"a/0{i}.png" for i in range(7)] + [f"b/0{i}.png" for i in range(3)] + ["c/00.png"]
    idx = kt.index_directory(build(tmp_path, files), split=split)
    assert [n[:-4] for n in names(idx)] == expected
    assert idx.num_classes == 3


def test_legacy_split_truncates_float_product(tmp_path):  # §A5: int(0.57 * 100) == 56
    root = build(tmp_path, [f"a/{i:03d}.png" for i in range(100)])
    assert len(kt.index_directory(root, split=(0, 0.57))) == 56


def test_modern_class_names_subset(tmp_path):  # §B2, §B9
    root = build(tmp_path, ["a/1.png", "b/1.png", "c/1.png"])
    idx = kt.index_directory(root, classes=["c", "a"], formats="modern")
    assert list(idx.class_names) == ["c", "a"] and names(idx) == ["c/1.png", "a/1.png"]
    with pytest.raises(ValueError, match=r"Expected: \['a', 'b', 'c'\] \(or a subset of it\), but received: class_names=\['d'\]"):
        kt.index_directory(root, classes=["d"], formats="modern")


def test_modern_labels_none_indexes_from_root(tmp_path):  # §B3
    root = build(tmp_path, ["r.png", ".hid/h.png", "a/1.png"])
    idx = kt.index_directory(root, formats="modern", labels=None)
    assert names(idx) == ["r.png", ".hid/h.png", "a/1.png"] and idx.class_names == ()


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"`formats` must be \"legacy\" or \"modern\""):
        kt.index_directory(str(tmp_path), formats="new")
    with pytest.raises(ValueError, match=r"`labels` must be \"inferred\" or None"):
        kt.index_directory(str(tmp_path), labels="int")


def test_string_table_roundtrip_and_take():
    items = ["a/1.png", "é/ü.jpg", "", "b/x/y/z.bmp"]
    t = StringTable.from_strings(items)
    assert list(t) == items and t == items and len(t) == 4
    assert t[-1] == items[-1] and t[1:3] == items[1:3]
    assert list(t.take(np.array([3, 0, 3]))) == [items[3], items[0], items[3]]
    assert list(t.with_prefix("/r")) == [os.path.join("/r", s) for s in items]
    assert list(StringTable.concat([t, t.take(np.array([1]))])) == items + [items[1]]
    with pytest.raises(IndexError):
        t[4]


def test_index_memory_per_sample(tmp_path):  # issue 2: <= 100 bytes per sample beyond path bytes
    root = build(tmp_path, [f"c{i % 3}/{i:05d}.png" for i in range(3000)])
    idx = kt.index_directory(root)
    path_bytes = sum(len(os.fsencode(f)) for f in idx.filenames)
    overhead = idx.filenames.nbytes - path_bytes + idx.classes.nbytes
    assert overhead / len(idx) <= 100
