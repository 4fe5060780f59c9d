"""Differential tests against the real Keras legacy API (KERAS_BACKEND=torch): §A3–§A9.

class_indices, filenames, classes, labels, split membership and pixels must equal Keras's
``DirectoryIterator``; pixels must equal ``img_to_array(load_img(...))`` bit for bit.
"""

from __future__ import annotations

import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch

keras_image = pytest.importorskip("keras.src.legacy.preprocessing.image")
image_utils = pytest.importorskip("keras.src.utils.image_utils")

import kdir_torch as kt
from kdir_torch.io import load_array
from imagetree import make_tree, touch, write_image

pytestmark = pytest.mark.keras


def keras_iterator(root, **kw):
    gen = keras_image.ImageDataGenerator(validation_split=kw.pop("validation_split", 0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gen.flow_from_directory(root, shuffle=False, **kw)


TREES = {
    "nested": {"Class_2": ["b.png", "A.jpg", "sub/x.bmp", "sub-a/y.ppm", "sub/deep/z.png"],
               "Class_10": ["1.png", "10.png", "2.png"], "empty": [], "zeta": ["q.tif", "r.png"]},
    "unicode": {"é": ["ü.png", "a.png"], "Z": ["é.png"], "a": ["x.PNG", "y.jpeg"]},
}


@pytest.mark.parametrize("tree_name", sorted(TREES))
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(class_mode="binary", validation_split=0.4, subset="validation"),
        dict(class_mode="sparse", validation_split=0.4, subset="training"),
        dict(classes=["zeta", "Class_2", "nope", "é"], class_mode="categorical"),
        dict(color_mode="grayscale", target_size=(9, 7), interpolation="bilinear"),
        dict(color_mode="rgba", target_size=(5, 11), keep_aspect_ratio=True, interpolation="lanczos"),
    ],
)
def test_directory_iterator_parity(tmp_path, tree_name, kwargs):
    root = make_tree(str(tmp_path / tree_name), TREES[tree_name], h=13, w=17)
    k = keras_iterator(root, batch_size=64, **kwargs)
    ours = kt.KerasDirDataset(root, data_format="channels_last", verbose=False, **kwargs)
    assert ours.class_indices == k.class_indices
    assert list(ours.filenames) == k.filenames
    assert list(ours.filepaths) == k.filepaths
    np.testing.assert_array_equal(ours.classes, k.classes)
    assert ours.classes.dtype == k.classes.dtype == np.int32
    assert ours.image_shape == k.image_shape and ours.num_classes == k.num_classes
    if len(k) == 0:
        assert len(ours) == 0
        return
    kx, ky = k[0]
    xs, ys = zip(*(ours[i] for i in range(len(ours))))
    x, y = torch.stack(xs), torch.stack(ys)
    assert x.dtype == torch.float32 and str(kx.dtype) == "float32"
    np.testing.assert_array_equal(x.numpy(), kx)  # bit for bit
    np.testing.assert_array_equal(y.numpy(), ky)
    assert y.numpy().dtype == ky.dtype and y.shape == ky.shape
    first = kt.KerasDirDataset(root, data_format="channels_first", verbose=False, **kwargs)
    x_first = torch.stack([first[i][0] for i in range(len(first))])
    np.testing.assert_array_equal(x_first.numpy(), kx.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("ext", ["png", "bmp", "ppm", "tiff", "jpg"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "I;16", "I", "CMYK"])
@pytest.mark.parametrize("color_mode", ["rgb", "rgba", "grayscale"])
def test_pixels_equal_load_img(tmp_path, ext, mode, color_mode):  # §A8
    path = str(tmp_path / f"img.{ext}")
    try:
        write_image(path, h=11, w=15, mode=mode, seed=3)
    except (OSError, KeyError, ValueError):
        pytest.skip(f"PIL cannot write mode {mode} as {ext}")
    for target, interp, keep in [(None, "nearest", False), ((7, 9), "nearest", False),
                                 ((8, 8), "bicubic", True), ((20, 13), "box", False),
                                 ((6, 10), "hamming", True)]:
        try:
            ref = image_utils.img_to_array(image_utils.load_img(
                path, color_mode=color_mode, target_size=target, interpolation=interp,
                keep_aspect_ratio=keep))
        except Exception as exc:  # Keras itself fails: we must fail too
            with pytest.raises(type(exc)):
                load_array(path, color_mode, target, interp, keep)
            continue
        hwc = load_array(path, color_mode, target, interp, keep)
        np.testing.assert_array_equal(hwc.astype(np.float32), ref, err_msg=f"{target} {interp} {keep}")
        planes = load_array(path, color_mode, target, interp, keep, channels_first=True)
        assert planes.dtype == hwc.dtype
        np.testing.assert_array_equal(planes.astype(np.float32), ref.transpose(2, 0, 1),
                                      err_msg=f"channels_first {target} {interp} {keep}")


def test_split_and_order_over_many_files(tmp_path):  # §A4/§A5 on a larger, messier listing
    root = str(tmp_path / "r")
    rng = np.random.default_rng(0)
    for i in range(300):
        cls = f"c{rng.integers(0, 12)}"
        depth = "/".join(f"d{rng.integers(0, 3)}" for _ in range(rng.integers(0, 3)))
        touch(os.path.join(root, cls, depth, f"{rng.integers(0, 10**6)}.{rng.choice(['png', 'JPG', 'gif', 'tif'])}"))
    for sub in ("training", "validation"):
        k = keras_iterator(root, validation_split=0.37, subset=sub)
        ours = kt.index_directory(root, split=(0, 0.37) if sub == "validation" else (0.37, 1))
        assert list(ours.filenames) == k.filenames
        np.testing.assert_array_equal(ours.classes, k.classes)
