"""``KerasDataFrameDataset`` / ``DataFrameIterator`` on the torch side (keras-semantics §A14).

The dataset protocol (``ds[i]`` per class_mode, ``make_loader`` with 0 and 2 workers equal to
the stacked items, a plain ``DataLoader``), list payloads through the loader (multi_output),
``on_error="skip"``, CSV and records input without pandas, compact storage. Keras parity is in
``test_dataframe_keras_diff.py``.

Image ``k`` has every pixel of channel 0 equal to ``k`` (its row in the table), so order,
skips and label alignment can be read back from the tensors alone.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

import kdir_torch as kt
from _trees import CounterAugment, corrupt, stacked_items  # tests/ helpers
from kdir_torch.datasets.dataframe_table import read_table
from kdir_torch.index import StringTable
from kdir_torch.loader.prefetch import map_tensors

N = 10
LABELS = ["cat", "dog", "bird", "dog", "cat", "cat", "bird", "dog", "cat", "dog"]
MULTI = [["cat", "dog"], "cat", ("dog",), [], ["bird"], "dog", ["dog", "bird"], "cat", "bird",
         ["cat"]]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    base = tmp_path_factory.mktemp("dfimg")
    rng = np.random.default_rng(0)
    for k in range(N):
        arr = np.empty((6, 5, 3), np.uint8)
        arr[..., 0], arr[..., 1], arr[..., 2] = k, k % 3, rng.integers(0, 256, (6, 5))
        Image.fromarray(arr).save(base / f"{k:02d}.png")
    return str(base)


def _records():
    return [{"filename": f"{k:02d}.png", "label": LABELS[k], "multi": MULTI[k],
             "pair": ["no", "yes"][k % 2], "w": 0.25 * k + 0.5, "r1": 3 * k - 4, "r2": k / 4,
             "bbox": [k, k + 1, 2 * k]}
            for k in range(N)]


def _ds(root, data=None, **kw):
    kw.setdefault("target_size", (6, 5))
    return kt.KerasDataFrameDataset(_records() if data is None else data, root, verbose=False,
                                    **kw)


MODES = {  # id -> dataset kwargs  (§A14 label encodings)
    "categorical": dict(y_col="label"),
    "multi_label": dict(y_col="multi"),
    "binary": dict(y_col="pair", class_mode="binary"),
    "sparse": dict(y_col="label", class_mode="sparse"),
    "input": dict(class_mode="input"),
    "none": dict(class_mode=None),
    "raw": dict(y_col="r1", class_mode="raw"),
    "raw_list": dict(y_col=["r1", "r2"], class_mode="raw"),
    "multi_output": dict(y_col=["r2", "bbox"], class_mode="multi_output"),
    "weights": dict(y_col="label", weight_col="w"),
    "multi_output_weights": dict(y_col=["r1", "bbox"], class_mode="multi_output", weight_col="w"),
}


def _expected_label(ds, k, mode):
    """The label of row ``k`` (its file index) written out by hand from the records."""
    if mode in ("categorical", "weights"):
        return torch.eye(3)[ds.class_indices[LABELS[k]]]
    if mode == "multi_label":
        labels = MULTI[k] if isinstance(MULTI[k], (list, tuple)) else [MULTI[k]]
        return sum((torch.eye(3)[ds.class_indices[c]] for c in labels), torch.zeros(3))
    if mode == "binary":
        return torch.tensor(float(k % 2))
    if mode == "sparse":
        return torch.tensor(float(ds.class_indices[LABELS[k]]))
    if mode == "raw":
        return torch.tensor(3 * k - 4)
    if mode == "raw_list":
        return torch.tensor([3 * k - 4, k / 4], dtype=torch.float64)
    if mode == "multi_output":
        return [torch.tensor(k / 4, dtype=torch.float64), torch.tensor([k, k + 1, 2 * k])]
    return [torch.tensor(3 * k - 4), torch.tensor([k, k + 1, 2 * k])]


def _assert_equal(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
        assert torch.equal(a, b)
    else:
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_equal(x, y)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_items_per_class_mode(root, mode):  # §A14 labels; images as KerasDirDataset's
    ds = _ds(root, **MODES[mode])
    assert len(ds) == ds.samples == N and ds.image_shape == (3, 6, 5)
    for k in (0, 3, N - 1):
        item = ds[k]
        x = item if mode == "none" else item[0]
        assert x.shape == (3, 6, 5) and x.dtype == torch.float32 and x[0].eq(k).all()
        if mode == "none":
            continue
        if mode == "input":
            _assert_equal(item[1], x)
            assert item[1].data_ptr() != x.data_ptr()
            continue
        _assert_equal(item[1], _expected_label(ds, k, mode))
        if "weights" in mode:
            assert len(item) == 3 and item[2].dtype == torch.float32
            assert item[2].item() == 0.25 * k + 0.5
        else:
            assert len(item) == 2
    _assert_equal(ds[-1], ds[N - 1])
    with pytest.raises(IndexError):
        ds[N]


def test_attributes_and_channels_last(root):
    ds = _ds(root, y_col="multi", weight_col="w", data_format="channels_last", target_size=(4, 3))
    assert ds[0][0].shape == (4, 3, 3) and ds.image_shape == (4, 3, 3)
    assert isinstance(ds.filenames, StringTable) and list(ds.filenames)[:2] == ["00.png", "01.png"]
    assert list(ds.filepaths) == [os.path.join(root, f"{k:02d}.png") for k in range(N)]
    assert ds.class_indices == {"bird": 0, "cat": 1, "dog": 2} and ds.num_classes == 3
    assert ds.classes[:4] == [[1, 2], 1, [2], []] and ds.labels == ds.classes  # Keras's shape
    assert ds.sample_weight.dtype == np.float64 and ds.sample_weight[2] == 1.0
    single = _ds(root, y_col="label")
    assert single.classes.dtype == np.int32 and single.classes.tolist()[:3] == [1, 2, 0]
    none = _ds(root, class_mode=None)
    assert none.classes is None and none.class_indices == {} and none.labels is None
    assert "samples=10" in repr(single)


def _loader_batches(ds, **kw):
    loader = kt.make_loader(ds, batch_size=4, seed=5, return_indices=True, **kw)
    batches = list(loader)
    return batches, torch.cat([b[-1] for b in batches])


def _first_of(out):
    if isinstance(out, torch.Tensor):
        return out[0]
    return type(out)(_first_of(o) for o in out)


def _stack(items):
    if isinstance(items[0], torch.Tensor):
        return torch.stack(items)
    return type(items[0])(_stack(list(parts)) for parts in zip(*items))


@pytest.mark.parametrize("mode, workers", [(m, 0) for m in sorted(MODES)]
                         + [("multi_output_weights", 2), ("multi_label", 2)])
def test_make_loader_equals_items(root, mode, workers):
    """make_loader (uint8 transport, finish after transfer) == stacked ds[i], any workers."""
    ds = _ds(root, augment=CounterAugment(seed=3), **MODES[mode])
    loader = kt.make_loader(ds, batch_size=4, seed=5, return_indices=True, num_workers=workers)
    orders = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        seen = []
        for *out, idx in loader:
            seen.extend(idx.tolist())
            expected = _stack([ds[int(i)] for i in idx])
            _assert_equal(out[0] if len(out) == 1 else tuple(out), expected)
        assert sorted(seen) == list(range(N))
        orders.append(seen)
    assert orders[0] != orders[1]  # a new order per epoch, augmented per epoch as ds[i]


def test_plain_dataloader_collates_lists(root):
    ds = _ds(root, **MODES["multi_output_weights"])
    x, (y1, y2), w = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 3, 6, 5) and y1.tolist() == [-4, -1, 2, 5]
    assert y2.shape == (4, 3) and w.tolist() == [0.5, 0.75, 1.0, 1.25]
    assert stacked_items(_ds(root, y_col="label"), range(4))[0][:, 0, 0, 0].tolist() == [0, 1, 2, 3]


def test_list_payloads_with_channels_last_and_worker_finishing(root):
    """The loader's per-item steps reach tensors inside lists (multi_output labels)."""
    ds = _ds(root, **MODES["multi_output_weights"])
    ref = list(kt.make_loader(ds, batch_size=3, shuffle=False, num_workers=0))
    for kw in (dict(channels_last=True), dict(augment_on="worker", num_workers=2)):
        got = list(kt.make_loader(ds, batch_size=3, shuffle=False, **kw))
        assert len(got) == len(ref) == 4
        for g, r in zip(got, ref):
            _assert_equal(g, r)
            if kw.get("channels_last"):
                assert g[0].is_contiguous(memory_format=torch.channels_last)


def test_map_tensors_nested():
    a, b, c = torch.zeros(2), torch.ones(3), torch.full((1,), 2.0)
    out = map_tensors(lambda t: t + 1, (a, [b, (c, "keep")], None))
    assert isinstance(out, tuple) and isinstance(out[1], list) and isinstance(out[1][1], tuple)
    assert out[0].tolist() == [1, 1] and out[1][0].tolist() == [2, 2, 2]
    assert out[1][1][0].tolist() == [3.0] and out[1][1][1] == "keep" and out[2] is None


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_list_payloads_on_cuda(root):  # pinned host batches, .to(device) of each list item
    ds = _ds(root, **MODES["multi_output_weights"])
    for kw in (dict(num_workers=1), dict(num_workers=1, augment_on="worker")):
        got = list(kt.make_loader(ds, batch_size=4, shuffle=False, device="cuda", **kw))
        ref = list(kt.make_loader(ds, batch_size=4, shuffle=False))
        for g, r in zip(got, ref):
            assert g[1][0].is_cuda and g[2].is_cuda
            _assert_equal(map_tensors(lambda t: t.cpu(), g), r)


def test_on_error_skip_keeps_labels_and_weights_aligned(root, tmp_path):
    for k in range(N):
        os.link(os.path.join(root, f"{k:02d}.png"), tmp_path / f"{k:02d}.png")
    os.unlink(tmp_path / "03.png")
    Image.open(os.path.join(root, "03.png")).save(tmp_path / "03.png")
    corrupt(tmp_path / "03.png")
    ds = _ds(str(tmp_path), y_col="multi", weight_col="w", on_error="skip")
    assert len(ds) == N  # the file exists and is named .png: validate_filenames keeps it
    with pytest.raises(kt.ImageDecodeError) as err:
        ds[3]
    assert err.value.index == 3 and err.value.path.endswith("03.png")
    with pytest.warns(UserWarning, match="Skipped 1 image"):
        batches, order = _loader_batches(ds, num_workers=0)
    assert sorted(order.tolist()) == [k for k in range(N) if k != 3]
    for x, y, w, idx in batches:
        assert x[:, 0, 0, 0].tolist() == idx.tolist()
        assert w.tolist() == [0.25 * k + 0.5 for k in idx.tolist()]
        for row, k in zip(y, idx.tolist()):
            _assert_equal(row, _expected_label(ds, k, "multi_label"))


def _write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerows(rows)
    return str(path)


def _csv_rows():
    header = ["filename", "label", "w", "r1", "r2", "flag", "note"]
    body = [[f"{k:02d}.png", LABELS[k], 0.25 * k + 0.5, 3 * k - 4, k / 4, k % 2 == 0,
             "" if k == 2 else f"n{k}"] for k in range(N)]
    return [header, *body]


def test_csv_without_pandas_equals_dataframe(root, tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    path = _write_csv(tmp_path / "t.csv", _csv_rows())
    kw = dict(y_col="label", weight_col="w")
    with_pandas = _ds(root, pd.read_csv(path), **kw)
    via_pandas_csv = _ds(root, path, **kw)
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` now fails
    no_pandas = _ds(root, path, **kw)
    raw = _ds(root, path, y_col=["r1", "r2"], class_mode="raw")
    for ds in (via_pandas_csv, no_pandas):
        assert list(ds.filenames) == list(with_pandas.filenames)
        assert ds.classes.tolist() == with_pandas.classes.tolist()
        assert ds.class_indices == with_pandas.class_indices
        assert ds.sample_weight.dtype == with_pandas.sample_weight.dtype == np.float64
        np.testing.assert_array_equal(ds.sample_weight, with_pandas.sample_weight)
        _assert_equal(ds[4], with_pandas[4])
    assert raw.labels.dtype == np.float64 and raw.labels[1].tolist() == [-1.0, 0.25]


def test_csv_column_types_follow_pandas(tmp_path, monkeypatch):
    """The stdlib parser types plain CSV columns as pandas.read_csv does."""
    pd = pytest.importorskip("pandas")
    rows = [["i", "i_missing", "f", "b", "s", "s_missing", "mixed"],
            ["1", "4", "1.5", "True", "a.png", "x", "1"],
            ["-2", "", "2", "False", "b c.png", "NA", "two"],
            ["+3", "6", "1e3", "true", "é.png", "y", "3.5"]]
    path = _write_csv(tmp_path / "types.csv", rows)
    ref = pd.read_csv(path)
    monkeypatch.setitem(sys.modules, "pandas", None)
    table = read_table(path)
    assert table.n_rows == len(ref)
    for name in ref.columns:
        ours, theirs = table.values(name), ref[name].to_numpy()
        assert ours.dtype == theirs.dtype, name
        assert table.is_numeric(name) == issubclass(ref[name].dtype.type, np.number)
        assert [str(v) for v in ours] == [str(v) for v in theirs], name


def test_records_without_pandas_equal_dataframe(root, monkeypatch):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(_records())
    refs = {m: _ds(root, frame, **MODES[m]) for m in ("multi_label", "multi_output_weights")}
    monkeypatch.setitem(sys.modules, "pandas", None)
    for mode, ref in refs.items():
        ds = _ds(root, **MODES[mode])
        assert list(ds.filenames) == list(ref.filenames) and ds.classes == ref.classes
        for k in range(N):
            _assert_equal(ds[k], ref[k])


def test_pandas_is_not_imported_for_records_or_csv(root, tmp_path):
    path = _write_csv(tmp_path / "p.csv", _csv_rows())
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def guard(name, *a, **k):\n"
        "    if name.split('.')[0] == 'pandas': raise ImportError('no pandas here')\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = guard\n"
        "import kdir_torch as kt\n"
        f"ds = kt.KerasDataFrameDataset({path!r}, {root!r}, y_col='label', target_size=(6, 5))\n"
        "rs = kt.KerasDataFrameDataset([{'filename': '00.png', 'class': ['a', 'b']}], "
        f"{root!r})\n"
        "assert 'pandas' not in sys.modules and len(ds) == 10 and rs[0][1].tolist() == [1, 1]\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), *sys.path]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "Found 10 validated image filenames belonging to 3 classes." in out.stdout


def test_compact_storage(root):
    """DESIGN "Compact index": numpy arrays and a StringTable, no per-row Python objects."""
    n = 3000
    records = [{"filename": f"{k % N:02d}.png", "class": ["a", "b", "c"][: 1 + k % 3],
                "w": float(k), "r": k} for k in range(n)]
    for kw in (dict(), dict(y_col="r", class_mode="raw", weight_col="w"),
               dict(y_col=["r", "w"], class_mode="multi_output")):
        ds = kt.KerasDataFrameDataset(records, root, verbose=False, **kw)
        assert len(ds) == n
        for holder in (ds.__dict__, ds.index.__dict__):
            for name, value in holder.items():
                assert not isinstance(value, (list, tuple, set, dict)) or len(value) <= 3, name
                for array in value if isinstance(value, list) else [value]:
                    assert not isinstance(array, np.ndarray) or array.dtype != object, name
        assert isinstance(ds.index.filenames, StringTable)
        assert len(pickle.dumps(ds)) < 40 * n  # ~7 path bytes + labels per row


def test_bad_inputs():
    with pytest.raises(TypeError, match="pandas DataFrame, the path of a CSV file"):
        kt.KerasDataFrameDataset({"filename": ["a.png"]})
    with pytest.raises(TypeError, match=r"records must be mappings"):
        kt.KerasDataFrameDataset([("a.png", "x")])
    with pytest.raises(KeyError):
        kt.KerasDataFrameDataset([], verbose=False)
    lazy = kt.KerasDataFrameDataset(_records(), y_col="label", interpolation="cubic",
                                    verbose=False, validate_filenames=False)
    assert lazy.interpolation == "cubic"  # checked when a file is resized, as Keras (§A8.3)
    with pytest.raises(TypeError, match="validate_filenames"):
        kt.KerasDataFrameDataset(_records(), validate_filenames="yes")


def test_interpolation_is_checked_when_resizing(root):
    with pytest.raises(ValueError, match="Invalid interpolation method cubic"):
        _ds(root, y_col="label", interpolation="cubic", target_size=(3, 3))[0]


def test_other_class_mode_is_raw_with_a_deprecation_warning(root):
    with pytest.warns(DeprecationWarning, match='class_mode="other"'):
        ds = _ds(root, y_col="r1", class_mode="other")
    assert ds.class_mode == "raw" and ds[1][1].item() == -1


# -- DataFrameIterator / flow_from_dataframe (torch side) -----------------------------------
def test_flow_from_dataframe_batches(root, capsys):
    gen = kt.ImageDataGenerator(validation_split=0.3)
    it = gen.flow_from_dataframe(_records(), root, y_col=["r1", "bbox"], weight_col="w",
                                 class_mode="multi_output", target_size=(6, 5), batch_size=3,
                                 shuffle=False, subset="training")
    assert "Found 7 validated image filenames." in capsys.readouterr().out
    assert isinstance(it, kt.DataFrameIterator) and len(it) == 3 and it.n == 7
    x, (y1, y2), w = next(it)
    assert x.shape == (3, 6, 5, 3) and x[:, 0, 0, 0].tolist() == [3, 4, 5]
    assert y1.tolist() == [5, 8, 11] and y2.shape == (3, 3) and w.dtype == torch.float32
    np.testing.assert_array_equal(it.sample_weight, [0.25 * k + 0.5 for k in range(3, N)])
    assert it.x_col == "filename" and it.y_col == ["r1", "bbox"] and it.weight_col == "w"
    epoch = list(it)
    assert [b[0].shape[0] for b in epoch] == [3, 3, 1]


def test_flow_from_dataframe_workers_and_skip(root, tmp_path):
    for k in range(N):
        os.link(os.path.join(root, f"{k:02d}.png"), tmp_path / f"{k:02d}.png")
    os.unlink(tmp_path / "05.png")
    corrupt(tmp_path / "05.png")
    it = kt.ImageDataGenerator().flow_from_dataframe(
        _records(), str(tmp_path), y_col="label", weight_col="w", target_size=(6, 5),
        batch_size=4, seed=2, num_workers=2, on_error="skip")
    with warnings.catch_warnings():  # the loader's count comes when its pass is closed
        warnings.simplefilter("ignore")
        batches = list(it)
        it._live = None
    seen = torch.cat([b[0][:, 0, 0, 0] for b in batches]).long().tolist()
    assert sorted(seen) == [k for k in range(N) if k != 5]
    for x, y, w in batches:
        rows = x[:, 0, 0, 0].long().tolist()
        assert y.argmax(1).tolist() == [{"bird": 0, "cat": 1, "dog": 2}[LABELS[k]] for k in rows]
        assert w.tolist() == [0.25 * k + 0.5 for k in rows]


def test_iterator_defaults_and_ignored_keywords(root):
    with pytest.warns(UserWarning, match=r"ignores the keyword argument\(s\) \['follow_links'\]"):
        kt.ImageDataGenerator().flow_from_dataframe(_records(), root, y_col="label",
                                                    follow_links=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        it = kt.DataFrameIterator(_records(), root, y_col="label", target_size=(6, 5),
                                  shuffle=False)
    assert it.data_format == "channels_last" and it.dtype == torch.float32
    assert it.image_data_generator is not None and it.sample_weight is None
    x, y = it[0]
    assert x.shape == (10, 6, 5, 3) and y.shape == (10, 3)


def test_no_valid_rows_gives_empty_batches(root):
    records = [{"filename": "missing.png", "r": 1, "b": [1, 2], "w": 1.0}]
    with pytest.warns(UserWarning, match=r'Found 1 invalid image filename\(s\) in x_col="f'):
        it = kt.ImageDataGenerator().flow_from_dataframe(
            records, root, y_col=["r", "b"], class_mode="multi_output", weight_col="w",
            target_size=(6, 5))
    assert it.n == 0 and len(it) == 0
    x, (y1, y2), w = next(it)
    assert x.shape == (0, 6, 5, 3) and y1.shape == (0,) and w.shape == (0,)


def test_torch_habits_and_list_filenames(tmp_path):
    """targets / class_to_idx / transform / label_dtype as on KerasDirDataset; the iterator's
    filenames are lists, as Keras's."""
    os.makedirs(tmp_path / "imgs")
    for i in range(4):
        Image.fromarray(np.full((5, 5, 3), i, np.uint8)).save(tmp_path / "imgs" / f"{i}.png")
    recs = [{"filename": f"{i}.png", "class": "ab"[i % 2]} for i in range(4)]
    ds = kt.KerasDataFrameDataset(recs, directory=str(tmp_path / "imgs"), target_size=(5, 5),
                                  class_mode="sparse", label_dtype=torch.long, verbose=False,
                                  transform=lambda x: x + 1, target_transform=lambda y: -y)
    assert ds.targets == [0, 1, 0, 1] and ds.class_to_idx == {"a": 0, "b": 1}
    x, y = ds[3]
    assert float(x[0, 0, 0]) == 4.0 and y.dtype == torch.int64 and int(y) == -1
    it = kt.ImageDataGenerator().flow_from_dataframe(recs, directory=str(tmp_path / "imgs"),
                                                      target_size=(5, 5))
    assert isinstance(it.filenames, list) and json.loads(json.dumps(it.filenames)) == \
        [f"{i}.png" for i in range(4)]
    with pytest.raises(ValueError, match="multi_output"):
        kt.KerasDataFrameDataset([{"filename": "0.png", "a": 1, "b": 2}],
                                 directory=str(tmp_path / "imgs"), y_col=["a", "b"],
                                 class_mode="multi_output", transform=lambda x: x,
                                 verbose=False)
