"""Predictions mapped back: ``kt.predict`` (loader/predict.py) in ``filenames`` order,
``ds.decode_predictions`` and the class-index JSON (datasets/classmap.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset

import kdir_torch as kt
from _trees import indexed_tree

N = 14


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return indexed_tree(tmp_path_factory.mktemp("pred") / "root", {"ant": 6, "bee": 5, "cow": 3})


def legacy(root, **kw):
    kw.setdefault("class_mode", "categorical")
    return kt.KerasDirDataset(root, target_size=(6, 5), verbose=False, **kw)


def position(x):
    """A "model" reading the file position that channel 0 encodes."""
    return x[:, 0, 0, 0:1]


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.fc = torch.nn.Linear(3 * 6 * 5, 3)
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.fc(x.flatten(1) / 255))


def test_rows_in_filenames_order_under_shuffle_and_two_workers(tree):
    ds = legacy(tree)
    for workers, seed in ((2, 0), (0, 7)):
        loader = kt.make_loader(ds, batch_size=4, shuffle=True, num_workers=workers, seed=seed)
        out = kt.predict(position, loader)
        assert out.shape == (N, 1) and out.device.type == "cpu"
        assert out[:, 0].tolist() == [float(i) for i in range(N)]
        assert loader.return_indices is False  # restored


def test_matches_the_model_on_each_item_and_runs_in_eval_mode(tree):
    ds = legacy(tree)
    net = Net().train()
    direct = net.eval()(torch.stack([ds[i][0] for i in range(N)])).detach()
    net.train()
    loader = kt.make_loader(ds, batch_size=5, shuffle=True, num_workers=2, seed=3)
    out = kt.predict(net, loader)
    assert torch.allclose(out, direct, atol=1e-6)  # dropout off: eval mode
    assert net.training  # put back
    assert torch.allclose(kt.predict(net, ds, batch_size=3, num_workers=0), direct, atol=1e-6)


def test_dataset_part_and_subset_inputs(tree):
    ds = legacy(tree, class_mode=None)
    _, part = kt.split(ds, [0.4], seed=1)
    out = kt.predict(position, part, num_workers=0)
    assert out[:, 0].tolist() == part.parent_indices.astype(float).tolist()
    sub = Subset(ds, [9, 2, 4])
    assert kt.predict(position, sub, num_workers=0)[:, 0].tolist() == [9.0, 2.0, 4.0]


def test_tuple_outputs(tree):
    ds = legacy(tree)
    loader = kt.make_loader(ds, batch_size=4, num_workers=0, seed=2)
    pos, twice = kt.predict(lambda x: (position(x), 2 * position(x)), loader)
    assert torch.equal(twice, 2 * pos) and pos[:, 0].tolist() == list(map(float, range(N)))


def test_predict_refuses_loaders_that_skip_samples(tree):
    ds = legacy(tree)
    with pytest.raises(ValueError, match="every sample once"):
        kt.predict(position, kt.make_loader(ds, max_per_class=2, num_workers=0))
    with pytest.raises(ValueError, match="every sample once"):
        kt.predict(position, kt.make_loader(ds, sampler=range(3), num_workers=0))
    with pytest.raises(ValueError, match="drop_last=False"):
        kt.predict(position, kt.make_loader(ds, batch_size=4, drop_last=True, num_workers=0))
    with pytest.raises(TypeError, match="plain DataLoader"):
        kt.predict(position, DataLoader(ds))
    with pytest.raises(TypeError, match="returning a tensor"):
        kt.predict(lambda x: {"y": x}, ds, num_workers=0)


def test_skipped_files_leave_rows_missing(tree, tmp_path):
    root = indexed_tree(tmp_path / "bad", {"a": 3})
    with open(f"{root}/a/001.png", "wb") as fh:
        fh.write(b"not an image")
    ds = legacy(root, on_error="skip")
    with pytest.warns(UserWarning, match="Skipped 1"), pytest.raises(ValueError, match="1 missing"):
        kt.predict(position, ds, num_workers=0)


# -- decode_predictions -------------------------------------------------------------------------

def test_decode_predictions_best_first(tree):
    ds = legacy(tree)
    probs = torch.tensor([[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]])
    assert ds.decode_predictions(probs, top=2) == [
        [("bee", pytest.approx(0.7)), ("cow", pytest.approx(0.2))],
        [("cow", pytest.approx(0.4)), ("ant", pytest.approx(0.3))],  # a tie keeps class order
    ]
    full = ds.decode_predictions(probs.numpy())  # numpy in; top capped at the class count
    assert [len(row) for row in full] == [3, 3] and full[1][2][0] == "bee"
    assert all(type(name) is str and type(score) is float for row in full for name, score in row)


def test_decode_predictions_of_real_outputs_and_modern(tree):
    ds = legacy(tree)
    probs = kt.predict(lambda x: torch.nn.functional.one_hot(x[:, 1, 0, 0].long(), 3).float(),
                       ds, num_workers=0)
    decoded = ds.decode_predictions(probs, top=1)
    assert [row[0][0] for row in decoded] == [ds.class_names[c] for c in ds.classes]
    modern = kt.image_dataset_from_directory(tree, image_size=(6, 5), verbose=False).dataset
    assert modern.decode_predictions([[0.0, 0.0, 1.0]], top=1) == [[("cow", 1.0)]]


def test_decode_binary_sigmoid_and_errors(tree, tmp_path):
    two = legacy(indexed_tree(tmp_path / "two", {"no": 1, "yes": 1}), class_mode="binary")
    assert two.decode_predictions(torch.tensor([[0.8]])) == [
        [("yes", pytest.approx(0.8)), ("no", pytest.approx(0.2))]]
    assert two.decode_predictions(torch.tensor([0.1]), top=1) == [[("no", pytest.approx(0.9))]]
    ds = legacy(tree)
    with pytest.raises(ValueError, match=r"shape \(samples, 3\)\)\. Received array with shape: "
                                         r"\(2, 4\)"):
        ds.decode_predictions(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="`top` must be >= 1"):
        ds.decode_predictions(torch.zeros(2, 3), top=0)
    with pytest.raises(TypeError, match="`top` must be an integer"):
        ds.decode_predictions(torch.zeros(2, 3), top=1.5)


# -- class indices as JSON ----------------------------------------------------------------------

def test_class_indices_round_trip(tree, tmp_path):
    ds = legacy(tree, classes=["cow", "ant", "bee", "émeu"])
    path = tmp_path / "classes.json"
    ds.save_class_indices(path)
    assert json.loads(path.read_text()) == {"cow": 0, "ant": 1, "bee": 2, "émeu": 3}
    loaded = kt.load_class_indices(path)
    assert loaded == ds.class_indices and list(loaded) == ["cow", "ant", "bee", "émeu"]
    modern = kt.image_dataset_from_directory(tree, image_size=(6, 5), verbose=False).dataset
    modern.save_class_indices(tmp_path / "m.json")
    assert kt.load_class_indices(tmp_path / "m.json") == {"ant": 0, "bee": 1, "cow": 2}
    part = kt.split(ds, [0.5], seed=0)[0]
    part.save_class_indices(tmp_path / "p.json")
    assert kt.load_class_indices(tmp_path / "p.json") == ds.class_indices


@pytest.mark.parametrize("text", ['["a"]', '{"a": "0"}', '{"a": -1}', '{"a": true}'])
def test_load_class_indices_rejects_other_json(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="does not hold a JSON object"):
        kt.load_class_indices(path)


def test_saved_mapping_decodes_a_deployed_model(tree, tmp_path):
    ds = legacy(tree)
    ds.save_class_indices(tmp_path / "c.json")
    mapping = kt.load_class_indices(tmp_path / "c.json")
    names = sorted(mapping, key=mapping.get)
    scores = np.eye(3, dtype=np.float32)[ds.classes]
    decoded = kt.datasets.classmap.decode_predictions(scores, names, top=1)
    assert [row[0][0] for row in decoded] == [ds.class_names[c] for c in ds.classes]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_predict_and_balanced_subsets_on_cuda(tree):
    ds = legacy(tree)
    net = Net()
    cpu = kt.predict(net, ds, num_workers=0)
    loader = kt.make_loader(ds, batch_size=4, num_workers=2, seed=1, device="cuda")
    gpu = kt.predict(net.cuda(), loader)
    assert gpu.device.type == "cpu" and torch.allclose(gpu, cpu, atol=1e-5)
    sub = Subset(ds, list(range(0, N, 2)))
    runs = [[(x.cpu(), y.cpu(), i.cpu()) for x, y, i in kt.make_loader(
        sub, batch_size=3, num_workers=2, seed=2, max_per_class=2, device=dev,
        return_indices=True)] for dev in ("cpu", "cuda")]
    for (xc, yc, ic), (xg, yg, ig) in zip(*runs):
        assert torch.equal(ic, ig) and torch.equal(xc, xg) and torch.equal(yc, yg)
