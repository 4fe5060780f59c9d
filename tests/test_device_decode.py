"""``make_loader(decode_on="device")``: JPEG bytes from the workers, batched decode after.

The byte path runs on the CPU here through the ``cpu_seam`` fixture (``TEST_DECODE_DEVICE``)
(torchvision's CPU ``decode_jpeg``, whose pixels equal PIL's), so every batch must equal the
host path's exactly: shapes, dtypes, labels, order, pixels, fallback files (PNG, BMP, CMYK
JPEG) joined at their places, ``on_error``, 0 and 2 workers. The CUDA tests at the end run
the real nvJPEG path and measure its pixel difference from the host path.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

import kdir_torch as kt
from kdir_torch.datasets.arrays import ArrayDataset
from kdir_torch.errors import ImageDecodeError
from kdir_torch.io import InterpolationError
from kdir_torch.io.jpeg_header import gpu_components
from kdir_torch.loader import device_decode
from kdir_torch.loader.byte_reader import ByteReader, decode_spec

from _trees import corrupt

pytest.importorskip("torchvision")

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

# (name, PIL mode, size (h, w), save format, save options); class = name prefix
FILES = [
    ("a/00_base.jpg", "RGB", (23, 31), "JPEG", {}),
    ("a/01_prog.jpg", "RGB", (40, 20), "JPEG", {"progressive": True}),
    ("a/02_gray.jpg", "L", (17, 17), "JPEG", {}),
    ("a/03_png.png", "RGB", (30, 30), "PNG", {}),
    ("b/00_444.jpg", "RGB", (32, 32), "JPEG", {"subsampling": 0, "quality": 95}),
    ("b/01_cmyk.jpg", "CMYK", (21, 26), "JPEG", {}),
    ("b/02_bmp.bmp", "RGB", (19, 33), "BMP", {}),
    ("b/03_big.jpg", "RGB", (64, 48), "JPEG", {}),
]


def _image(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    bands = len(mode) if mode != "L" else 1
    arr = np.stack([(xx * (7 + 3 * c) + yy * (5 + c) + seed * 11) % 256 for c in range(bands)], -1)
    arr = (arr + rng.integers(0, 40, arr.shape)).clip(0, 255).astype(np.uint8)
    return Image.fromarray(arr[..., 0] if mode == "L" else arr, mode)


@pytest.fixture
def cpu_seam(monkeypatch):
    """Run ``decode_on="device"`` with torchvision's CPU decoder (no CUDA needed)."""
    monkeypatch.setattr(device_decode, "TEST_DECODE_DEVICE", "cpu")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpudecode")
    for k, (name, mode, size, fmt, kw) in enumerate(FILES):
        os.makedirs(root / os.path.dirname(name), exist_ok=True)
        _image(mode, size, k).save(root / name, fmt, **kw)
    return str(root)


def _both(ds, **kw):
    """Batches of the host path and of the byte path (decoded on the CPU)."""
    host = list(kt.make_loader(ds, batch_size=3, seed=4, return_indices=True, **kw))
    dev = list(kt.make_loader(ds, batch_size=3, seed=4, return_indices=True,
                              decode_on="device", **kw))
    return host, dev


def _assert_same(host, dev):
    assert len(host) == len(dev)
    for hb, db in zip(host, dev):
        for h, d in zip(hb, db):
            assert h.dtype == d.dtype and h.shape == d.shape
            assert torch.equal(h, d)


def test_header_scan_routes_files(tree):
    """Baseline, progressive, grayscale JPEGs go to the device; CMYK, PNG, BMP and truncated
    JPEGs do not."""
    read = {name: open(os.path.join(tree, name), "rb").read() for name, *_ in FILES}
    assert gpu_components(read["a/00_base.jpg"]) == 3
    assert gpu_components(read["a/01_prog.jpg"]) == 3
    assert gpu_components(read["a/02_gray.jpg"]) == 1
    for name in ("b/01_cmyk.jpg", "a/03_png.png", "b/02_bmp.bmp"):
        assert gpu_components(read[name]) is None, name
    assert gpu_components(read["a/00_base.jpg"][:-40]) is None


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("color_mode", ["rgb", "grayscale", "rgba"])
def test_legacy_byte_path_equals_host(tree, num_workers, color_mode, cpu_seam):
    """Same batches as the host path, bit for bit: PIL's colour conversions and nearest
    resize reproduced, fallback files joined in order."""
    ds = kt.KerasDirDataset(tree, target_size=(24, 28), color_mode=color_mode, verbose=False,
                            class_mode="sparse")
    host, dev = _both(ds, num_workers=num_workers)
    _assert_same(host, dev)
    assert sum(len(b[-1]) for b in dev) == len(FILES)


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "lanczos", "box", "hamming"])
@pytest.mark.parametrize("keep", [False, True])
def test_legacy_filters_and_crop_equal_host(tree, interpolation, keep, cpu_seam):
    ds = kt.KerasDirDataset(tree, target_size=(20, 36), interpolation=interpolation,
                            keep_aspect_ratio=keep, verbose=False, data_format="channels_last")
    _assert_same(*_both(ds, num_workers=0))


@pytest.mark.parametrize("options", [
    {"interpolation": "bilinear"}, {"interpolation": "nearest", "color_mode": "grayscale"},
    {"interpolation": "area", "crop_to_aspect_ratio": True},
    {"interpolation": "bicubic", "pad_to_aspect_ratio": True}, {"color_mode": "rgba"},
])
@pytest.mark.filterwarnings("ignore:Skipped")
def test_modern_byte_path_equals_host(tree, options, cpu_seam):
    """The modern resize runs on the decoded tensors (float32; uint8 for nearest); files TF
    rejects (rgba JPEGs, CMYK / BMP in grayscale) stay on the host, which skips them: the
    same indices are missing from both paths."""
    ds = kt.ModernDirDataset([os.path.join(tree, n) for n, *_ in FILES], labels=None,
                             image_size=(18, 22), on_error="skip", **options)
    _assert_same(*_both(ds, num_workers=0))


def test_workers_ship_jpeg_bytes(tree, cpu_seam):
    """The byte path is really taken: JPEG positions travel encoded, the rest decoded."""
    ds = kt.KerasDirDataset(tree, target_size=(8, 8), verbose=False)
    loader = kt.make_loader(ds, batch_size=len(FILES), shuffle=False, num_workers=0,
                            decode_on="device")
    fetched = loader._fetcher[loader._plan.batch(0, 0)]
    assert fetched.payload == () and fetched.encoded is not None
    jpeg = [k for k, (name, mode, *_) in enumerate(FILES)
            if name.endswith(".jpg") and mode != "CMYK"]
    assert fetched.encoded.jpeg_at.tolist() == jpeg
    assert len(fetched.encoded.decoded) == len(FILES) - len(jpeg)


def test_target_size_none_needs_same_sizes(tree, cpu_seam):
    ds = kt.KerasDirDataset(tree, target_size=None, verbose=False)
    loader = kt.make_loader(ds, batch_size=2, shuffle=False, num_workers=0,
                            decode_on="device")
    with pytest.raises(ValueError, match="Cannot stack sample"):
        next(iter(loader))
    one = kt.make_loader(ds, batch_size=1, shuffle=False, num_workers=0, decode_on="device",)
    for (x, _), i in zip(one, range(len(ds))):
        torch.testing.assert_close(x[0], ds[i][0], rtol=0, atol=0)


@pytest.fixture
def broken(tmp_path):
    """Four JPEGs: 1 has a valid header (it goes to the device decoder) naming an undefined
    quantization table, which every decoder rejects; 3 is not an image at all."""
    for k in range(4):
        os.makedirs(tmp_path / "c", exist_ok=True)
        _image("RGB", (16, 16), k).save(tmp_path / "c" / f"{k}.jpg", "JPEG")
    data = bytearray((tmp_path / "c" / "1.jpg").read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 12] = 3  # component 0's quantization table id (tables 0 and 1 exist)
    (tmp_path / "c" / "1.jpg").write_bytes(bytes(data))
    assert gpu_components(bytes(data)) == 3
    corrupt(tmp_path / "c" / "3.jpg")
    return str(tmp_path)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_on_error_skip(broken, num_workers, cpu_seam):
    ds = kt.KerasDirDataset(broken, target_size=(16, 16), verbose=False)
    loader = kt.make_loader(ds, batch_size=4, shuffle=False, num_workers=num_workers,
                            on_error="skip", decode_on="device",
                            return_indices=True)
    with pytest.warns(UserWarning, match="Skipped 2 image"):
        (x, y, idx), = list(loader)
    assert idx.tolist() == [0, 2] and x.shape == (2, 3, 16, 16)
    assert sorted(i for i, _ in loader.skipped) == [1, 3]
    for k, i in enumerate(idx.tolist()):
        assert torch.equal(x[k], ds[i][0])


@pytest.mark.parametrize("num_workers", [0, 2])
def test_on_error_raise_names_the_file(broken, num_workers, cpu_seam):
    ds = kt.KerasDirDataset(broken, target_size=(16, 16), verbose=False)
    # batch 0 = files 0, 1: the failure is found by the device decoder, after the transfer
    strict = kt.make_loader(ds, batch_size=2, shuffle=False, num_workers=num_workers,
                            decode_on="device")
    with pytest.raises(ImageDecodeError) as info:
        list(strict)
    assert info.value.index == 1 and info.value.path.endswith("1.jpg")
    assert any("decode_jpeg on cpu failed first" in n for n in info.value.__notes__)


def test_argument_errors(tree, monkeypatch):
    ds = kt.KerasDirDataset(tree, target_size=(8, 8), verbose=False)
    with pytest.raises(ValueError, match=r"`decode_on` must be one of \('host', 'device'\)"):
        kt.make_loader(ds, decode_on="gpu")
    with pytest.raises(ValueError, match="needs `device='cuda'`"):
        kt.make_loader(ds, decode_on="device", device="cpu")
    monkeypatch.setattr(device_decode, "TEST_DECODE_DEVICE", "cpu")  # past the CUDA check
    with pytest.raises(ValueError, match="cannot be finished in the workers"):
        kt.make_loader(ds, decode_on="device", augment_on="worker")
    draft = kt.KerasDirDataset(tree, target_size=(8, 8), verbose=False, jpeg_draft=True)
    with pytest.raises(ValueError, match="jpeg_draft=True"):
        kt.make_loader(draft, decode_on="device")
    cached = kt.KerasDirDataset(tree, target_size=(8, 8), verbose=False, cache="memory")
    with pytest.raises(ValueError, match="a decoded cache"):
        kt.make_loader(cached, decode_on="device")
    arrays = ArrayDataset(np.zeros((2, 4, 4, 3), np.uint8), data_format="channels_last")
    with pytest.raises(ValueError, match="Received: dataset=ArrayDataset"):
        kt.make_loader(arrays, decode_on="device")


def test_missing_torchvision_is_an_import_error(tree, monkeypatch, cpu_seam):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(device_decode.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torchvision" else real(name, *a))
    ds = kt.KerasDirDataset(tree, target_size=(8, 8), verbose=False)
    with pytest.raises(ImportError, match="pip install torchvision"):
        kt.make_loader(ds, decode_on="device")


def test_bad_interpolation_raises_like_load_raw(tree, cpu_seam):
    ds = kt.KerasDirDataset(tree, target_size=(8, 8), interpolation="nope", verbose=False)
    loader = kt.make_loader(ds, batch_size=2, shuffle=False, num_workers=0,
                            decode_on="device")
    with pytest.raises(InterpolationError, match="needed to resize sample 0"):
        next(iter(loader))


def test_reader_keeps_regular_file_check(tmp_path):
    os.makedirs(tmp_path / "c")
    os.mkfifo(tmp_path / "c" / "x.jpg")
    ds = kt.KerasDirDataset(str(tmp_path), target_size=(8, 8), verbose=False)
    with pytest.raises(ImageDecodeError, match="FIFO"):
        ByteReader(ds, decode_spec(ds))(0)


# -- CUDA: the real nvJPEG path (skipped without a GPU) ---------------------------------------
@pytest.mark.cuda
@cuda
@pytest.mark.parametrize("color_mode", ["rgb", "grayscale"])
def test_cuda_nvjpeg_close_to_host(tree, color_mode):
    """Same shapes, dtypes, labels and order as the host path; JPEG pixels within a few
    levels (nvJPEG's IDCT / upsampling are not libjpeg-turbo's); fallback files exact."""
    ds = kt.KerasDirDataset(tree, target_size=(24, 28), color_mode=color_mode, verbose=False)
    host = list(kt.make_loader(ds, batch_size=3, seed=4, return_indices=True, num_workers=2,
                               device="cuda"))
    dev = list(kt.make_loader(ds, batch_size=3, seed=4, return_indices=True, num_workers=2,
                              device="cuda", decode_on="device"))
    worst = 0.0
    for (xh, yh, ih), (xd, yd, i_d) in zip(host, dev):
        assert xd.is_cuda and xd.dtype == xh.dtype and xd.shape == xh.shape
        assert torch.equal(ih, i_d) and torch.equal(yh, yd)
        worst = max(worst, float((xh - xd).abs().max()))
    print(f"nvJPEG vs host, color_mode={color_mode}: max abs difference {worst}")
    assert worst <= 16


def test_flow_from_directory_passes_decode_on(tree, monkeypatch, cpu_seam):
    """``ImageDataGenerator.flow_from_directory(decode_on=...)`` reaches ``make_loader``
    (checked before the tree is listed; the CPU seam stands in for CUDA here)."""
    from kdir_torch.keras import iterator

    gen = kt.ImageDataGenerator(horizontal_flip=True)
    with pytest.raises(ValueError, match="`decode_on` must be one of"):
        gen.flow_from_directory("/nonexistent", decode_on="gpu")
    with pytest.raises(ValueError, match="needs `device='cuda'`"):
        gen.flow_from_directory("/nonexistent", decode_on="device")
    host = gen.flow_from_directory(tree, target_size=(12, 10), batch_size=4, seed=3)
    monkeypatch.setattr(iterator, "check_decode_request", lambda *a, **k: "device")
    dev = gen.flow_from_directory(tree, target_size=(12, 10), batch_size=4, seed=3,
                                  decode_on="device")
    assert dev.loader._decoder is not None
    _assert_same(list(host), list(dev))
