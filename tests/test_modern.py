"""``image_dataset_from_directory`` against keras-semantics Part B (§B1–§B9).

Trees are built in ``tmp_path``; every image is a constant whose value is the file's position
in Keras's sorted listing, so order, labels and splits can be read back from the tensors
(``interpolation="nearest"`` keeps them exact). Where Keras is installed, argument validation
and file indexing are also compared with Keras's own functions (they need no TensorFlow).
"""

from __future__ import annotations

import os
import re

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch
from PIL import Image

from kdir_torch.datasets.modern import ModernDirDataset
from kdir_torch.keras.batched import BatchedDataset
from kdir_torch.datasets.modern_files import index_files
from kdir_torch.errors import ImageDecodeError
from kdir_torch.keras.modern import image_dataset_from_directory as idfd

FMT = "('.bmp', '.gif', '.jpeg', '.jpg', '.png')"


def _tree(root, spec: dict[str, int], size=(3, 4)) -> str:
    """``root/<class>/<k>.png``; the file listed at global position k has every pixel == k."""
    k = 0
    for cls in sorted(spec):
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for j in range(spec[cls]):
            Image.fromarray(np.full((*size, 3), k, np.uint8)).save(
                os.path.join(root, cls, f"{j:02d}.png"))
            k += 1
    return str(root)


@pytest.fixture
def tree(tmp_path):
    return _tree(tmp_path / "root", {"cat": 3, "dog": 4})


def _ids(ds) -> list[int]:
    """The pixel ids of everything a dataset yields, in yield order."""
    out = []
    for item in ds:
        x = item[0] if isinstance(item, (tuple, list)) else item
        x = x if x.dim() == 4 else x[None]
        out.extend(int(v) for v in x.flatten(1)[:, 0])
    return out


def _q(**kw):
    return dict(image_size=(3, 4), interpolation="nearest", verbose=False, **kw)


# -- §B1 / §B9: validation messages, Keras's order ----
LABELS_MSG = ("`labels` argument should be a list/tuple of integer labels, of the same size as the "
              "number of image files in the target directory. If you wish to infer the labels "
              "from the subdirectory names in the target directory, pass `labels=\"inferred\"`. "
              "If you wish to get a dataset that only contains images (no labels), pass "
              "`labels=None`. Received: labels=abc")
SEED_MSG = ("If using `validation_split` and shuffling the data, you must provide a `seed` "
            "argument, to make sure that there is no overlap between the training and "
            "validation subset.")
CASES = [
    (dict(labels="abc"), LABELS_MSG),
    (dict(labels=[0] * 7, class_names=["cat"]),
     "You can only pass `class_names` if `labels=\"inferred\"`. Received: labels=[0, 0, 0, 0, 0, "
     "0, 0], and class_names=['cat']"),
    (dict(label_mode="sparse"), '`label_mode` argument must be one of "int", "categorical", '
     '"binary", or None. Received: label_mode=sparse'),
    (dict(color_mode="RGB"),
     '`color_mode` must be one of {"rgb", "rgba", "grayscale"}. Received: color_mode=RGB'),
    (dict(image_size=(3, 4, 5)),
     "Invalid `image_size` value. Expected a tuple of 2 integers. Received: image_size=(3, 4, 5)"),
    (dict(interpolation="Cubic"), "Argument `interpolation` should be one of ('bilinear', "
     "'nearest', 'bicubic', 'area', 'lanczos3', 'lanczos5', 'gaussian', 'mitchellcubic'). "
     "Received: interpolation=cubic"),
    (dict(format="torch"), '`format` should be either "tf" or "grain". Received: format=torch'),
    (dict(validation_split=1.5, subset="training", seed=1),
     "`validation_split` must be between 0 and 1, received: 1.5"),
    (dict(validation_split=0.2), "If `subset` is set, `validation_split` must be set, and "
     "inversely."),
    (dict(subset="training"), "If `subset` is set, `validation_split` must be set, and inversely."),
    (dict(validation_split=0.0, subset="both"),
     "If `subset` is set, `validation_split` must be set, and inversely."),
    (dict(validation_split=0.2, subset="test", seed=1),
     '`subset` must be either "training", "validation" or "both", received: test'),
    (dict(validation_split=0.2, subset="training"), SEED_MSG),
    (dict(class_names=["cat", "cow"]), "The `class_names` passed did not match the names of the "
     "subdirectories of the target directory. Expected: ['cat', 'dog'] (or a subset of it), but "
     "received: class_names=['cat', 'cow']"),
    (dict(labels=None, class_names=["cat"]),
     "When `labels=None` (no labels), argument `class_names` cannot be specified."),
    (dict(label_mode=None, class_names=["cat"]),
     "When `labels=None` (no labels), argument `class_names` cannot be specified."),
    (dict(labels=[0, 1]), "Expected the lengths of `labels` to match the number of files in the "
     "target directory. len(labels) is 2 while we found 7 files in directory {root}."),
    (dict(label_mode="binary", class_names=["cat"]), 'When passing `label_mode="binary"`, there '
     "must be exactly 2 class_names. Received: class_names=['cat']"),
    (dict(data_format="NCHW"), "The `data_format` argument must be one of {'channels_first', "
     "'channels_last'}. Received: data_format=nchw"),
    (dict(crop_to_aspect_ratio=True, pad_to_aspect_ratio=True),
     "Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set to `True`."),
    (dict(class_names=[]), "No images found in directory {root}. Allowed formats: " + FMT),
    (dict(class_names=[], validation_split=0.5, subset="both", seed=1),
     "No training images found in directory {root}. Allowed formats: " + FMT),
    (dict(labels=[0] * 7, class_names=[]), "When argument `labels` is specified, argument "
     "`class_names` cannot be specified (the `class_names` will be the sorted list of labels)."),
    # §B1 order: the earlier check wins when two arguments are wrong.
    (dict(label_mode="x", color_mode="y"), "Received: label_mode=x"),
    (dict(color_mode="y", image_size="big"), "Received: color_mode=y"),
    (dict(image_size=[1], interpolation="z"), "Received: image_size=[1]"),
    (dict(interpolation="z", format="q"), "Received: interpolation=z"),
    (dict(format="q", validation_split=3), "Received: format=q"),
    (dict(validation_split=0.5, subset="training", label_mode="binary", class_names=["cat"]),
     SEED_MSG),
    (dict(label_mode="binary", class_names=["cat"], data_format="bad"), "exactly 2 class_names"),
]


@pytest.mark.parametrize(("kwargs", "message"), CASES)
def test_validation_messages(tree, kwargs, message):
    """§B9 texts, §B1 order (first failing check wins)."""
    args = {"image_size": (3, 4), "interpolation": "nearest", "verbose": False, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message.replace("{root}", tree))):
        idfd(tree, **args)


@pytest.mark.keras
@pytest.mark.parametrize(("kwargs", "message"), [c for c in CASES if "Only one" not in c[1]])
def test_validation_messages_equal_real_keras(tree, kwargs, message):
    """Differential: Keras raises the same error text for the same arguments (no TF needed;
    crop+pad is left out because Keras raises it inside its TF pipeline)."""
    keras = pytest.importorskip("keras")
    kwargs = {"seed": 1, **kwargs} if "seed" not in kwargs and "subset" not in kwargs else kwargs
    with pytest.raises(ValueError) as ours:
        idfd(tree, verbose=False, **kwargs)
    with pytest.raises(ValueError) as theirs:
        keras.utils.image_dataset_from_directory(tree, verbose=False, **kwargs)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(("kwargs", "exc"), [
    (dict(batch_size=0), ValueError), (dict(batch_size=2.5), TypeError),
    (dict(num_workers=-1), ValueError), (dict(image_size=(0, 3)), ValueError),
    (dict(interpolation=3), TypeError), (dict(labels=np.zeros(7)), ValueError),
    (dict(labels=["a"] * 7, label_mode="int"), TypeError),
    (dict(labels=[0.5] * 7, label_mode="categorical"), TypeError),
])
def test_our_extra_checks(tree, kwargs, exc):
    """Values Keras leaves to tf.data fail early; a numpy `labels` fails as in Keras (§B1.1)."""
    with pytest.raises(exc):
        idfd(tree, **{"seed": 1, "verbose": False, **kwargs})


def test_missing_directory(tmp_path):
    """§B2: missing root -> FileNotFoundError (inferred); labels=None finds no images."""
    with pytest.raises(FileNotFoundError):
        idfd(str(tmp_path / "nope"), seed=1, verbose=False)
    with pytest.raises(ValueError, match="No images found"):
        idfd(str(tmp_path / "nope"), labels=None, seed=1, verbose=False)


def test_prints(tree, capsys):
    """§B9 prints; "Using ..." lines print even with verbose=False; data_format fails after."""
    idfd(tree, seed=1, validation_split=0.3, subset="both", verbose=True)
    assert capsys.readouterr().out.splitlines() == [
        "Found 7 files belonging to 2 classes.", "Using 5 files for training.",
        "Using 2 files for validation."]
    idfd(tree, labels=None, seed=1, verbose=True)
    assert capsys.readouterr().out == "Found 7 files.\n"
    with pytest.raises(ValueError, match="data_format"):
        idfd(tree, seed=1, data_format="x")
    assert capsys.readouterr().out == "Found 7 files belonging to 2 classes.\n"


# -- §B2 / §B3: discovery ----
def test_discovery_rules(tmp_path):
    """§B2/§B3: hidden top dirs skipped, dotted extension list, root files only without labels."""
    root = _tree(tmp_path / "r", {"a": 1, "b": 1})
    for rel in ["a/x.tif", "a/x.webp", "a/filepng", "a/x.apng", "b/up.JPG", "b/s/.h.gif",
                "top.png", ".hid/h.png", "b/z.bmp"]:
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Image.new("RGB", (2, 2)).save(path, format={"webp": "WEBP", "tif": "TIFF", "bmp": "BMP",
                                                    "gif": "GIF"}.get(rel.rsplit(".", 1)[-1],
                                                                      "PNG"))
    ds = idfd(root, shuffle=False, **_q())
    rel = [os.path.relpath(p, root) for p in ds.file_paths]
    assert ds.class_names == ["a", "b"]
    assert rel == ["a/00.png", "b/00.png", "b/up.JPG", "b/z.bmp", "b/s/.h.gif"]
    flat = idfd(root, labels=None, shuffle=False, **_q())
    assert flat.class_names is None
    assert [os.path.relpath(p, root) for p in flat.file_paths] == [
        "top.png", ".hid/h.png", "a/00.png", "b/00.png", "b/up.JPG", "b/z.bmp", "b/s/.h.gif"]


@pytest.mark.parametrize(("names", "labels"), [
    (["dog", "cat"], [0, 0, 0, 0, 1, 1, 1]),
    (["dog"], [0, 0, 0, 0]),
    (["cat", "cat"], [1] * 6),        # duplicates kept, last index wins (§B2)
])
def test_class_names_subset_order_kept(tree, names, labels):
    """§B2: class_names is a subset of the sub-folders, read in the given order."""
    ds = idfd(tree, class_names=names, shuffle=False, batch_size=None, **_q())
    assert ds.class_names == names
    assert [int(y) for _, y in ds] == labels


@pytest.mark.keras
@pytest.mark.parametrize("kwargs", [
    dict(), dict(class_names=["dog", "cat"]), dict(labels=None), dict(shuffle=False),
    dict(seed=7, follow_links=True), dict(labels=list(range(7, 0, -1))),
])
def test_index_equals_keras(tree, kwargs):
    """Differential §B2–§B4: paths, labels, class names and seeded shuffle equal Keras's."""
    pytest.importorskip("keras")
    from keras.src.utils import dataset_utils
    args = {**dict(labels="inferred", class_names=None, shuffle=True, seed=123,
                   follow_links=False), **kwargs}
    theirs = dataset_utils.index_directory(tree, formats=(".bmp", ".gif", ".jpeg", ".jpg", ".png"),
                                           verbose=False, **{**args, "labels": _copy(args)})
    ours = index_files(tree, _copy(args), args["class_names"], args["follow_links"],
                       args["shuffle"], args["seed"], verbose=False)
    assert list(ours.paths) == list(theirs[0])
    assert ours.class_names == theirs[2]
    if theirs[1] is not None:
        assert list(np.asarray(ours.labels)) == list(np.asarray(theirs[1]))


def _copy(args):
    return list(args["labels"]) if isinstance(args["labels"], list) else args["labels"]


# -- §B6: labels ----
@pytest.mark.parametrize(("label_mode", "dtype", "batch_shape", "elem_shape"), [
    ("int", torch.int32, (4,), ()),
    ("categorical", torch.float32, (4, 2), (2,)),
    ("binary", torch.float32, (4, 1), (1,)),
])
def test_label_modes(tree, label_mode, dtype, batch_shape, elem_shape):
    """§B6: int32 (B,), float32 one-hot (B, K), float32 (B, 1); per element (), (K,), (1,)."""
    ds = idfd(tree, label_mode=label_mode, shuffle=False, batch_size=4, **_q())
    x, y = next(iter(ds))
    assert y.dtype == dtype and tuple(y.shape) == batch_shape
    assert x.dtype == torch.uint8 and tuple(x.shape) == (4, 3, 4, 3)  # nearest keeps uint8
    expected = torch.tensor([0, 0, 0, 1])
    if label_mode == "categorical":
        assert torch.equal(y, torch.nn.functional.one_hot(expected, 2).float())
    else:
        assert torch.equal(y.flatten().long(), expected)
    _, y1 = ds.dataset[0]
    assert tuple(y1.shape) == elem_shape and y1.dtype == dtype


def test_no_labels_and_float_images(tree):
    """§B6 None -> images only; bilinear images are float32 0..255, channels_last by default."""
    ds = idfd(tree, label_mode=None, shuffle=False, image_size=(6, 8), verbose=False)
    x = next(iter(ds))
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
    assert tuple(x.shape) == (7, 6, 8, 3)
    assert torch.round(x.flatten(1)[:, 0]).tolist() == list(range(7))
    first = idfd(tree, shuffle=False, data_format="channels_first", seed=1, **_q())
    assert tuple(next(iter(first))[0].shape) == (7, 3, 3, 4)


def test_explicit_labels(tree):
    """§B3/§B6: explicit labels are not remapped, class_names = sorted distinct values as str,
    a list is shuffled in place like Keras, categorical rows >= K are all zero."""
    labels = [0, 5, 0, 5, 0, 5, 0]
    expected = list(labels)
    np.random.RandomState(3).shuffle(expected)
    ds = idfd(tree, labels=labels, label_mode="categorical", seed=3, batch_size=None,
              **_q())
    assert ds.class_names == ["0", "5"] and labels == expected
    assert sorted(map(tuple, (y.tolist() for _, y in ds))) == [(0.0, 0.0)] * 3 + [(1.0, 0.0)] * 4
    binary = idfd(tree, labels=(0, 5, 0, 5, 0, 5, 0), label_mode="binary", shuffle=False,
                  **_q())
    assert next(iter(binary))[1].flatten().tolist() == [0.0, 5.0, 0.0, 5.0, 0.0, 5.0, 0.0]
    floats = idfd(tree, labels=[0.5] * 7, shuffle=False, **_q())
    assert next(iter(floats))[1].dtype == torch.float32


# -- §B4 / §B5 / §B8: shuffle, split, batching ----
@pytest.mark.parametrize(("seed", "split"), [(1, 0.3), (42, 0.5), (123456, 0.2)])
def test_seeded_shuffle_and_split_equal_hand_computation(tree, seed, split):
    """§B4/§B5: perm = RandomState(seed).permutation(N); validation = the last int(v * N)."""
    order = sorted(os.path.join(tree, c, f) for c in ("cat", "dog")
                   for f in os.listdir(os.path.join(tree, c)))
    shuffled = [order[i] for i in np.random.RandomState(seed).permutation(7)]
    num_val = int(split * 7)
    train, val = idfd(tree, seed=seed, validation_split=split, subset="both", **_q())
    assert list(train.file_paths) == shuffled[:7 - num_val]
    assert list(val.file_paths) == shuffled[7 - num_val:]
    one = idfd(tree, seed=seed, validation_split=split, subset="validation", **_q())
    assert list(one.file_paths) == list(val.file_paths)
    assert sorted(_ids(train) + _ids(val)) == list(range(7))       # disjoint and complete
    assert _ids(val) == [order.index(p) for p in val.file_paths]   # never shuffled


def test_tiny_validation_fraction_uses_upstream_fix(tree, capsys):
    """§B5: int(v * N) == 0 keeps every file for training (Keras <= 3.15.1 emptied it)."""
    train = idfd(tree, seed=1, validation_split=0.1, subset="training", **_q())
    assert len(train.file_paths) == 7
    assert "Using 7 files for training." in capsys.readouterr().out
    with pytest.raises(ValueError, match=re.escape(f"No images found in directory {tree}.")):
        idfd(tree, seed=1, validation_split=0.1, subset="validation", **_q())
    with pytest.raises(ValueError, match="No validation images found"):
        idfd(tree, seed=1, validation_split=0.1, subset="both", **_q())


@pytest.mark.parametrize(("batch_size", "sizes"), [(3, [3, 3, 1]), (7, [7]), (10, [7]),
                                                     (None, [1] * 7)])
def test_batch_counts_and_partial_last_batch(tree, batch_size, sizes):
    """§B8: ceil(N / B) batches, partial last batch; batch_size=None yields elements."""
    ds = idfd(tree, batch_size=batch_size, shuffle=False, **_q())
    assert len(ds) == len(sizes)
    got = [x.shape[0] if x.dim() == 4 else 1 for x, _ in ds]
    assert got == sizes
    if batch_size is None:
        x, y = next(iter(ds))
        assert tuple(x.shape) == (3, 4, 3) and y.dim() == 0


def test_reshuffle_each_epoch_deterministic(tree):
    """§B8: a new order every epoch (ours, from (seed, epoch)); same seed -> same orders."""
    a = idfd(tree, seed=5, batch_size=2, **_q())
    b = idfd(tree, seed=5, batch_size=2, **_q())
    epochs = [_ids(a) for _ in range(3)]
    assert epochs == [_ids(b) for _ in range(3)]
    assert all(sorted(e) == list(range(7)) for e in epochs)
    assert len({tuple(e) for e in epochs}) > 1
    b.set_epoch(1)
    assert _ids(b) == epochs[1]


def test_protocol_and_workers(tree):
    """Dataset protocol (load_raw/finish_batch == ds[i]); num_workers gives the same batches."""
    ds = idfd(tree, shuffle=False, seed=1, **_q(), num_workers=1)
    element = ds.dataset
    assert isinstance(ds, BatchedDataset) and isinstance(element, ModernDirDataset)
    raw = torch.stack([element.load_raw(i) for i in (2, 5)])
    x, y = element.finish_batch(raw, torch.tensor([2, 5]))
    assert torch.equal(x[1], element[5][0]) and y.tolist() == [0, 1]
    assert _ids(ds) == list(range(7))


def test_decode_errors_are_lazy_and_name_the_file(tmp_path):
    """§B7 / Part E 19: a GIF in grayscale fails while iterating, naming path and index."""
    root = _tree(tmp_path / "r", {"a": 1})
    Image.new("RGB", (3, 4)).save(os.path.join(root, "a", "z.gif"))
    ds = idfd(root, color_mode="grayscale", shuffle=False, **_q())
    with pytest.raises(ImageDecodeError, match=r"sample 1 .*z\.gif.*GIF"):
        list(ds)


def test_differential_against_tensorflow(tree):
    """Only when TensorFlow is installed: same paths, class names and (unshuffled) pixels."""
    tf = pytest.importorskip("tensorflow")
    theirs = tf.keras.utils.image_dataset_from_directory(
        tree, image_size=(5, 6), seed=9, validation_split=0.3, subset="training", verbose=False,
        shuffle=False)
    ours = idfd(tree, image_size=(5, 6), seed=9, validation_split=0.3, subset="training",
                verbose=False, shuffle=False)
    assert list(ours.file_paths) == list(theirs.file_paths)
    assert ours.class_names == theirs.class_names
    for (x, y), (tx, ty) in zip(ours, theirs):
        np.testing.assert_allclose(x.numpy(), tx.numpy(), atol=1e-3)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())


def test_element_dataset_direct_use(tree):
    """ModernDirDataset on its own: channels_first by default (DESIGN), labels per §B6."""
    paths = [os.path.join(tree, "dog", "01.png"), os.path.join(tree, "cat", "00.png")]
    ds = ModernDirDataset(paths, [1, 0], class_names=["cat", "dog"], label_mode="categorical",
                          image_size=(2, 2), interpolation="area")
    x, y = ds[0]
    assert tuple(x.shape) == (3, 2, 2) and x.dtype == torch.float32 and float(x[0, 0, 0]) == 4.0
    assert y.tolist() == [0.0, 1.0] and ds.num_classes == 2 and len(ds) == 2
    with pytest.raises(ValueError, match="image_size"):
        ModernDirDataset(paths, image_size=(0, 2))
    with pytest.raises(IndexError):
        ds[2]


def test_make_loader_drives_the_element_dataset(tree):
    """The library's loader speaks the same protocol: its batches equal ours (unshuffled), and
    its ``augment`` override reaches ``finish_batch``."""
    loader_mod = pytest.importorskip("kdir_torch.loader")
    ds = idfd(tree, shuffle=False, batch_size=3, seed=1, data_format="channels_first",
              image_size=(3, 4), verbose=False)
    loader = loader_mod.make_loader(ds.dataset, batch_size=3, shuffle=False, num_workers=0,
                                    device="cpu")
    pairs = list(zip(loader, ds))
    assert len(pairs) == 3
    assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in pairs)
    shifted = loader_mod.make_loader(ds.dataset, batch_size=3, shuffle=False, num_workers=0,
                                     augment=lambda x, idx, *, epoch, seed: x + 1, seed=0)
    assert torch.equal(next(iter(shifted))[0], next(iter(ds))[0] + 1)
