"""Multi-root datasets and ``kt.concat``: classes merged by name, labels remapped, file names
unambiguous (kdir_torch/index/roots.py). Each root alone is listed as Keras lists it (keras-semantics
§A3–§A5, §B2–§B5), which the differential tests check against Keras's own iterator."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import kdir_torch as kt
from _trees import CounterAugment, indexed_tree, stacked_items

SIZE = (6, 5)


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("multi")
    a = indexed_tree(base / "site_a" / "train", {"cat": 3, "dog": 2})
    b = indexed_tree(base / "site_b" / "train", {"dog": 2, "emu": 4, "Ant": 1}, seed=1)
    return str(base), a, b


def legacy(directory, **kw):
    kw.setdefault("target_size", SIZE)
    kw.setdefault("class_mode", "sparse")
    return kt.KerasDirDataset(directory, verbose=False, **kw)


def test_classes_merged_by_name_and_labels_remapped(roots):
    _, a, b = roots
    ds = legacy([a, b])
    # the union in Keras's sort order (plain code points: "Ant" before "cat")
    assert ds.class_names == ["Ant", "cat", "dog", "emu"]
    assert ds.class_indices == {"Ant": 0, "cat": 1, "dog": 2, "emu": 3}
    assert ds.num_classes == 4 and len(ds) == 12
    alone = [legacy(a), legacy(b)]
    expected = [ds.class_indices[one.class_names[c]] for one in alone for c in one.classes]
    assert ds.classes.dtype == np.int32 and ds.classes.tolist() == expected
    # labels the loader and ds[i] deliver follow the merged classes
    ys = torch.stack([ds[i][1] for i in range(len(ds))])
    assert ys.tolist() == [float(c) for c in expected]
    # pixels: root after root, each in its own (Keras) order
    pairs = [(single, j) for single in alone for j in range(len(single))]
    for i, (single, j) in enumerate(pairs):
        assert torch.equal(ds[i][0], single[j][0])


def test_filenames_unambiguous_and_filepaths_absolute(roots):
    base, a, b = roots
    ds = legacy([a, b])
    assert ds.directory == base  # the deepest folder holding both roots
    names = list(ds.filenames)
    assert len(set(names)) == len(names)
    assert names[0] == os.path.join("site_a", "train", "cat", "000.png")
    assert names[5] == os.path.join("site_b", "train", "Ant", "000.png")
    paths = list(ds.filepaths)
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in paths)
    assert paths == [os.path.join(base, n) for n in names]
    # the same class folder name in both roots stays two distinct files
    assert names.count(os.path.join("site_a", "train", "dog", "000.png")) == 1
    assert names.count(os.path.join("site_b", "train", "dog", "000.png")) == 1


def test_each_root_listed_as_keras_lists_it(roots):  # §A3, §A4 differential
    pytest.importorskip("keras")
    from keras.src.legacy.preprocessing import image as kimage

    base, a, b = roots
    ds = legacy([a, b])
    start = 0
    for root in (a, b):
        it = kimage.ImageDataGenerator().flow_from_directory(
            root, target_size=SIZE, class_mode="sparse", shuffle=False)
        n = len(it.filenames)
        prefix = os.path.relpath(root, base) + os.sep
        assert list(ds.filenames[start:start + n]) == [prefix + f for f in it.filenames]
        names = {v: k for k, v in it.class_indices.items()}
        assert ds.classes[start:start + n].tolist() == [
            ds.class_indices[names[c]] for c in it.classes]
        x, _ = next(it)
        ours = torch.stack([ds[start + k][0] for k in range(min(n, len(x)))])
        assert np.array_equal(ours.permute(0, 2, 3, 1).numpy(), x[: len(ours)])
        start += n
    assert start == len(ds)


def test_explicit_classes_keep_their_order_and_may_be_missing(roots):
    _, a, b = roots
    ds = legacy([a, b], classes=["emu", "cat", "yak"])
    assert ds.class_indices == {"emu": 0, "cat": 1, "yak": 2}
    assert ds.classes.tolist() == [1, 1, 1, 0, 0, 0, 0]  # cat from a, emu from b, yak empty


def test_one_root_in_a_list_keeps_keras_names(roots):
    _, a, _ = roots
    ds, single = legacy([a]), legacy(a)
    assert list(ds.filenames) == list(single.filenames)  # class/file
    assert ds.directory == os.path.abspath(a) and list(ds.filepaths) == list(single.filepaths)


def test_relative_roots_become_absolute(roots, monkeypatch):
    base, a, b = roots
    monkeypatch.chdir(base)
    ds = legacy([os.path.relpath(a), os.path.relpath(b)])
    assert all(os.path.isabs(p) for p in ds.filepaths) and ds.directory == base


def test_validation_split_applies_per_root(roots):  # §A5 on each root's class folders
    _, a, b = roots
    for subset in ("training", "validation"):
        ds = legacy([a, b], validation_split=0.5, subset=subset)
        parts = [legacy(r, validation_split=0.5, subset=subset) for r in (a, b)]
        merged = kt.concat(parts)
        assert list(ds.filenames) == list(merged.filenames)
        assert ds.classes.tolist() == merged.classes.tolist()
        assert len(ds) == sum(len(p) for p in parts)


@pytest.mark.parametrize("make, err, text", [
    (lambda a, b: [a, a], ValueError, "same folder or one lies"),
    (lambda a, b: [os.path.dirname(a), a], ValueError, "same folder or one lies"),
    (lambda a, b: [], ValueError, "at least one folder"),
    (lambda a, b: [a, 3], TypeError, "list of paths"),
])
def test_bad_roots(roots, make, err, text):
    _, a, b = roots
    with pytest.raises(err, match=text):
        legacy(make(a, b))


def test_missing_root_fails_like_keras(roots, tmp_path):
    _, a, _ = roots
    with pytest.raises(FileNotFoundError):
        legacy([a, str(tmp_path / "nope")])


def test_loader_over_multi_root_equals_items(roots):
    _, a, b = roots
    ds = legacy([a, b], class_mode="categorical", augment=CounterAugment(seed=3))
    loader = kt.make_loader(ds, batch_size=4, num_workers=2, seed=0, return_indices=True)
    assert loader._slots is not None  # the shared-memory ring serves multi-root datasets
    for x, y, idx in loader:
        ex, ey = stacked_items(ds, idx.tolist(), epoch=0)
        assert torch.equal(x, ex) and torch.equal(y, ey)


def test_flow_from_directory_accepts_a_list(roots):
    _, a, b = roots
    it = kt.ImageDataGenerator().flow_from_directory([a, b], target_size=SIZE, batch_size=12,
                                                     class_mode="sparse", shuffle=False)
    x, y = next(it)
    assert x.shape == (12, *SIZE, 3) and y.tolist() == legacy([a, b]).classes.tolist()


# -- kt.concat --------------------------------------------------------------------------------

def test_concat_equals_multi_root(roots):
    _, a, b = roots
    merged, multi = kt.concat([legacy(a), legacy(b)]), legacy([a, b])
    assert isinstance(merged, kt.KerasDirDataset)
    assert merged.class_indices == multi.class_indices
    assert list(merged.filenames) == list(multi.filenames)
    assert merged.classes.tolist() == multi.classes.tolist()
    assert torch.equal(merged[7][0], multi[7][0]) and torch.equal(merged[7][1], multi[7][1])


def test_concat_keeps_a_common_class_list_and_takes_classes(roots):
    _, a, _ = roots
    one = legacy(a, classes=["dog", "cat"])
    train, val = kt.split(one, [0.5], seed=1)
    merged = kt.concat([val, train])
    assert merged.class_names == ["dog", "cat"]  # same list everywhere: kept as is
    assert sorted(merged.filenames) == sorted(one.filenames)  # Keras names, same root
    assert len(set(merged.filenames)) == len(one)
    forced = kt.concat([val, train], classes=["cat", "dog", "emu"])
    lookup = dict(zip(merged.filenames, merged.classes.tolist()))
    assert [forced.class_names[c] for c in forced.classes] == [
        merged.class_names[lookup[f]] for f in forced.filenames]
    with pytest.raises(ValueError, match="missing \\['dog'\\]"):
        kt.concat([val, train], classes=["cat"])


def test_concat_refuses_other_settings_and_shared_files(roots):
    _, a, b = roots
    with pytest.raises(ValueError, match="`target_size` differs"):
        kt.concat([legacy(a), legacy(b, target_size=(4, 4))])
    with pytest.raises(ValueError, match="`class_mode` differs"):
        kt.concat([legacy(a), legacy(b, class_mode="categorical")])
    with pytest.raises(ValueError, match="`augment` differs.*same object"):
        kt.concat([legacy(a, augment=CounterAugment()), legacy(b, augment=CounterAugment())])
    aug = CounterAugment()
    assert len(kt.concat([legacy(a, augment=aug), legacy(b, augment=aug)])) == 12
    with pytest.raises(ValueError, match="share the file"):
        kt.concat([legacy(a), legacy(a)])
    with pytest.raises(ValueError, match="at least one"):
        kt.concat([])
    with pytest.raises(TypeError, match="one kind"):
        kt.concat([legacy(a), kt.image_dataset_from_directory(b, image_size=SIZE,
                                                              verbose=False).dataset])


# -- the modern dataset -------------------------------------------------------------------------

def test_modern_multi_root(roots, capsys):  # §B2 per root, §B4 global shuffle, §B5 split
    _, a, b = roots
    plain = kt.image_dataset_from_directory([a, b], image_size=SIZE, shuffle=False)
    assert capsys.readouterr().out == "Found 12 files belonging to 4 classes.\n"
    assert plain.class_names == ["Ant", "cat", "dog", "emu"]
    ds = plain.dataset
    legacy_multi = legacy([a, b])
    assert list(ds.filepaths) == list(legacy_multi.filepaths)  # absolute, same order
    assert ds.classes.tolist() == legacy_multi.classes.tolist()
    assert ds.class_indices == legacy_multi.class_indices
    train, val = kt.image_dataset_from_directory([a, b], image_size=SIZE, seed=7,
                                                 validation_split=0.25, subset="both",
                                                 verbose=False)
    perm = np.random.RandomState(7).permutation(12)  # Keras's global shuffle (§B4)
    assert list(train.file_paths) + list(val.file_paths) == [ds.filepaths[i] for i in perm]
    assert len(val.file_paths) == 3
    some = kt.image_dataset_from_directory([a, b], image_size=SIZE, class_names=["emu", "cat"],
                                           shuffle=False, verbose=False).dataset
    assert some.class_names == ["emu", "cat"] and some.classes.tolist() == [1] * 3 + [0] * 4


def test_modern_multi_root_errors_and_unlabelled(roots):
    _, a, b = roots
    with pytest.raises(ValueError, match="did not match the names"):
        kt.image_dataset_from_directory([a, b], class_names=["cat", "yak"], verbose=False)
    with pytest.raises(ValueError, match="single `directory`"):
        kt.image_dataset_from_directory([a, b], labels=[0] * 12, verbose=False)
    none = kt.image_dataset_from_directory([a, b], labels=None, image_size=SIZE,
                                           shuffle=False, verbose=False)
    assert list(none.file_paths) == list(legacy([a, b]).filepaths)


def test_modern_concat_remaps_by_name(roots):
    _, a, b = roots
    da = kt.image_dataset_from_directory(a, image_size=SIZE, shuffle=False, verbose=False)
    db = kt.image_dataset_from_directory(b, image_size=SIZE, shuffle=False, verbose=False)
    merged = kt.concat([da.dataset, db.dataset])
    multi = kt.image_dataset_from_directory([a, b], image_size=SIZE, shuffle=False,
                                            verbose=False).dataset
    assert merged.class_names == multi.class_names
    assert list(merged.filepaths) == list(multi.filepaths)  # each root's prefix kept
    assert merged.classes.tolist() == multi.classes.tolist()
    assert merged.num_classes == 4
    assert int(merged[11][1]) == int(multi.classes[11])
    with pytest.raises(ValueError, match="share the file"):
        kt.concat([da.dataset, da.dataset])


def test_concat_refuses_different_transforms_and_label_dtypes(tmp_path):
    a = indexed_tree(tmp_path / "a", {"x": 2})
    b = indexed_tree(tmp_path / "b", {"x": 2})

    def ds(root, **kw):
        return kt.KerasDirDataset(root, target_size=(6, 5), verbose=False, **kw)
    with pytest.raises(ValueError, match="`transform` differs"):
        kt.concat([ds(a, transform=lambda x: x), ds(b, transform=lambda x: x)])
    with pytest.raises(ValueError, match="`label_dtype` differs"):
        kt.concat([ds(a, class_mode="sparse", label_dtype=torch.long), ds(b, class_mode="sparse")])
    same = lambda x: x  # noqa: E731
    assert len(kt.concat([ds(a, transform=same), ds(b, transform=same)])) == 4
