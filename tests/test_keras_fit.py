"""Keras 3 ``model.fit(it)`` / ``evaluate(it)`` / ``predict(it)`` on every ``LoaderIterator``
(torch backend), and the import hook that makes Keras accept them (kdir_torch/keras/keras_fit.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from _trees import indexed_tree

import kdir_torch as kt
from kdir_torch.keras.directory_iterator import DirectoryIterator
from kdir_torch.keras.keras_fit import PostImportHook

COUNTS = {"a": 4, "b": 3, "c": 3}  # n = 10
RNG = np.random.default_rng(0)
X = RNG.integers(0, 256, (12, 6, 5, 3)).astype(np.uint8)
Y = (np.arange(12) % 2).astype(np.float32)
W = RNG.random(12).astype(np.float32)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return indexed_tree(tmp_path_factory.mktemp("fit") / "root", COUNTS)


def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("needs Keras's torch backend")
    return keras


def _model(keras, outputs=1, activation="sigmoid"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((6, 5, 3)), keras.layers.Conv2D(2, 3),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(outputs, activation=activation),
    ])
    model.compile(optimizer="sgd", loss="categorical_crossentropy" if outputs > 1
                  else "binary_crossentropy")
    return model


def _batch_counter(keras, hook):
    class Count(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.counts = []

        def on_epoch_begin(self, epoch, logs=None):
            self.counts.append(0)

        def on_predict_begin(self, logs=None):
            self.counts.append(0)

    def bump(self, batch, logs=None):
        self.counts[-1] += 1

    setattr(Count, hook, bump)
    return Count()


class SpyIterator(DirectoryIterator):
    """Records the file index (channel 0 of ``indexed_tree``) of every sample Keras asks for."""

    def __getitem__(self, idx):
        batch = super().__getitem__(idx)
        self.seen.setdefault(self.epoch, []).append(batch[0][:, 0, 0, 0].round().int().tolist())
        self.asked.setdefault(self.epoch, []).append(idx)
        return batch


@pytest.mark.keras
def test_fit_flow_from_directory(tree):
    keras = _keras()
    it = SpyIterator(tree, kt.ImageDataGenerator(), target_size=(6, 5), batch_size=4, seed=0)
    it.seen, it.asked = {}, {}
    model, count = _model(keras, 3, "softmax"), _batch_counter(keras, "on_train_batch_end")
    before = [w.copy() for w in model.get_weights()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(it, epochs=2, verbose=0, callbacks=[count])
    assert not [w for w in caught if "ran out of data" in str(w.message)]
    assert count.counts == [len(it)] * 2 and len(history.history["loss"]) == 2
    # Keras first takes one batch to build the model, then calls on_epoch_end (a new order,
    # as for Keras's own iterators); each training epoch ends with on_epoch_end too.
    *build, first, second = sorted(it.seen)
    assert len(build) <= 1 and it.epoch == second + 1
    epochs = [it.seen[first], it.seen[second]]
    assert [len(e) for e in epochs] == [len(it)] * 2
    assert [sorted(k for b in e for k in b) for e in epochs] == [list(range(10))] * 2
    assert epochs[0] != epochs[1]  # a new order per epoch
    assert it.asked[first] == it.asked[second] == [0, 1, 2]  # in order: see keras_fit.py
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.keras
def test_sample_weights_reach_the_loss():
    keras = _keras()
    model = _model(keras)
    gen = kt.ImageDataGenerator(rescale=1 / 255.0)
    weighted = model.evaluate(gen.flow(X, Y, batch_size=4, shuffle=False, sample_weight=W),
                              verbose=0)
    want = model.evaluate(X / 255.0, Y, sample_weight=W, batch_size=4, verbose=0)
    plain = model.evaluate(gen.flow(X, Y, batch_size=4, shuffle=False), verbose=0)
    assert weighted == pytest.approx(want, rel=1e-5) and weighted != pytest.approx(plain)
    history = model.fit(gen.flow(X, Y, batch_size=4, sample_weight=W, seed=0), verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.keras
def test_class_weight_is_applied():
    keras = _keras()
    model = _model(keras)
    before = [w.copy() for w in model.get_weights()]
    it = kt.ImageDataGenerator().flow(X, Y, batch_size=4, seed=0)
    history = model.fit(it, class_weight={0: 0.0, 1: 0.0}, verbose=0)
    assert history.history["loss"] == [0.0]
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.keras
def test_predict_rows_in_order(tree):
    keras = _keras()
    model, gen = _model(keras), kt.ImageDataGenerator(rescale=1 / 255.0)
    count = _batch_counter(keras, "on_predict_batch_end")
    it = gen.flow(X, batch_size=5, shuffle=False)
    got = model.predict(it, verbose=0, callbacks=[count])
    assert count.counts == [len(it)] == [3]
    np.testing.assert_allclose(got, model.predict(X / 255.0, batch_size=5, verbose=0),
                               rtol=1e-6, atol=1e-7)
    it = gen.flow_from_directory(tree, target_size=(6, 5), class_mode=None, batch_size=4,
                                 shuffle=False)
    images = np.concatenate([b.numpy() for b in it])
    np.testing.assert_allclose(model.predict(it, verbose=0),
                               model.predict(images, batch_size=4, verbose=0), atol=1e-7)


@pytest.mark.keras
def test_same_training_for_0_and_2_workers():
    """fit asks for it[0], it[1], ... in order (served by the loader's workers): same result."""
    keras = _keras()
    weights = []
    for workers in (0, 2):
        model = _model(keras)
        gen = kt.ImageDataGenerator(rotation_range=20, horizontal_flip=True)
        it = gen.flow(X, Y, batch_size=4, seed=3, sample_weight=W, num_workers=workers)
        model.fit(it, epochs=2, verbose=0)
        weights.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


@pytest.mark.keras
def test_keras_checks_and_shuffle():
    keras = _keras()
    from keras.src.trainers import data_adapters

    model, gen = _model(keras), kt.ImageDataGenerator()
    with pytest.raises(ValueError, match="`y` should not be passed"):
        model.fit(gen.flow(X, Y), y=Y, verbose=0)
    shuffled = data_adapters.get_data_adapter(gen.flow(X, Y), shuffle=True)
    ordered = data_adapters.get_data_adapter(gen.flow(X, Y, shuffle=False), shuffle=True)
    assert isinstance(shuffled.py_dataset, keras.utils.PyDataset)
    assert shuffled.shuffle is False and ordered.shuffle is True  # see keras_fit.py
    assert shuffled.num_batches == 1 and shuffled.py_dataset[0][0].dtype == torch.float32
    x_only = gen.flow(X, batch_size=5, shuffle=False).as_pydataset()
    assert isinstance(x_only[0], tuple) and len(x_only[0]) == 1 and len(x_only) == 3


def test_post_import_hook_fires_once(tmp_path, monkeypatch):
    pkg = tmp_path / "kdt_fake_pkg"
    (pkg / "adapters").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "adapters" / "__init__.py").write_text("def get_data_adapter(x):\n    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fired = []
    hook = PostImportHook("kdt_fake_pkg.adapters", fired.append)
    monkeypatch.setattr(sys, "meta_path", [hook, *sys.meta_path])
    import kdt_fake_pkg.adapters as mod

    assert fired == [mod] and hook not in sys.meta_path
    assert mod.get_data_adapter(3) == 3 and mod.__spec__.loader.get_filename().endswith(".py")
    for name in ("kdt_fake_pkg.adapters", "kdt_fake_pkg"):
        sys.modules.pop(name)


def test_importing_kdir_torch_does_not_import_keras():
    code = (
        "import sys, numpy as np, kdir_torch as kt\n"
        "it = kt.ImageDataGenerator().flow(np.zeros((3, 4, 4, 3)), np.arange(3))\n"
        "next(it)\n"
        "from kdir_torch.keras.keras_fit import PostImportHook\n"
        "assert not [m for m in sys.modules if m == 'keras' or m.startswith('keras.')]\n"
        "assert any(isinstance(f, PostImportHook) for f in sys.meta_path)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(kt.__file__)))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.keras
def test_fit_evaluate_predict_flow_from_dataframe(tree):
    keras = _keras()
    names = sorted(os.path.relpath(os.path.join(d, f), tree)
                   for d, _, files in os.walk(tree) for f in files)
    records = [{"filename": n, "class": n.split(os.sep)[0]} for n in names]
    gen = kt.ImageDataGenerator()
    model = _model(keras, 3, "softmax")
    it = gen.flow_from_dataframe(records, tree, target_size=(6, 5), batch_size=4, seed=0)
    assert len(model.fit(it, epochs=1, verbose=0).history["loss"]) == 1
    assert np.isfinite(model.evaluate(it, verbose=0))
    ordered = gen.flow_from_dataframe(records, tree, target_size=(6, 5), batch_size=4,
                                      shuffle=False)
    probs = model.predict(ordered, verbose=0)
    assert probs.shape == (10, 3)
    first = model.predict(ordered[0][0], verbose=0)  # the rows of batch 0, in order
    np.testing.assert_allclose(probs[:4], first, rtol=1e-5, atol=1e-6)
