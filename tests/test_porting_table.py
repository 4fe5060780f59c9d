"""The README's porting table names every argument and attribute of Keras's image APIs.

The names come from Keras itself (so a new Keras argument fails this test until the table says
what kdir_torch does with it): the signatures of the legacy ``ImageDataGenerator``, its
``flow*`` methods and ``keras.utils.image_dataset_from_directory``, the generator's public
methods and instance attributes, and the public instance attributes of the three iterators
(``DirectoryIterator``, ``DataFrameIterator``, ``NumpyArrayIterator``) built on a small tree.
A name counts as covered when it appears as an identifier inside a code span (backticks) of
the section "Porting table (Keras → kdir_torch)".
"""

from __future__ import annotations

import inspect
import os
import re

import numpy as np
import pytest
from PIL import Image

from _subproc import REPO

keras = pytest.importorskip("keras")
legacy = pytest.importorskip("keras.src.legacy.preprocessing.image")

HEADING = "## Porting table (Keras → kdir_torch)"


def table_identifiers() -> set[str]:
    """Identifiers inside the code spans of the porting-table section of README.md."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    assert HEADING in text, f"README.md has no section {HEADING!r}"
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    spans = re.findall(r"`([^`]+)`", section)
    return {name for span in spans for name in re.findall(r"[A-Za-z_]\w*", span)}


def _params(fn) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if p != "self"]


def _public(obj) -> list[str]:
    return sorted(k for k in vars(obj) if not k.startswith("_"))


def keras_names(tmp_path) -> dict[str, list[str]]:
    """What Keras offers, by the place it comes from."""
    gen_cls = legacy.ImageDataGenerator
    root = tmp_path / "tree"
    for cls in ("a", "b"):
        os.makedirs(root / cls)
        for i in range(5):
            Image.new("RGB", (8, 8)).save(root / cls / f"{i}.png")
    gen = gen_cls(validation_split=0.2)
    import pandas as pd

    frame = pd.DataFrame({"filename": ["a/0.png", "b/0.png"], "class": ["a", "b"]})
    return {
        "ImageDataGenerator()": _params(gen_cls.__init__),
        "ImageDataGenerator.flow()": _params(gen_cls.flow),
        "flow_from_directory()": _params(gen_cls.flow_from_directory),
        "flow_from_dataframe()": _params(gen_cls.flow_from_dataframe),
        "image_dataset_from_directory()": _params(keras.utils.image_dataset_from_directory),
        "ImageDataGenerator methods": sorted(
            k for k, v in vars(gen_cls).items() if callable(v) and not k.startswith("_")),
        "ImageDataGenerator attributes": _public(gen),
        "DirectoryIterator attributes": _public(
            gen.flow_from_directory(str(root), target_size=(8, 8), subset="training")),
        "DataFrameIterator attributes": _public(
            gen.flow_from_dataframe(frame, str(root), target_size=(8, 8))),
        "NumpyArrayIterator attributes": _public(
            gen.flow(np.zeros((10, 8, 8, 3)), np.arange(10) % 2, subset="training")),
    }


def test_every_keras_argument_and_attribute_is_in_the_porting_table(tmp_path, capsys):
    covered = table_identifiers()
    names = keras_names(tmp_path)
    assert len(names["ImageDataGenerator()"]) > 20 and len(names["flow_from_directory()"]) > 10
    missing = {where: [n for n in found if n not in covered] for where, found in names.items()}
    missing = {where: found for where, found in missing.items() if found}
    assert not missing, f"README porting table lacks: {missing}"


def test_table_identifiers_reads_code_spans_only():
    covered = table_identifiers()
    assert {"flow_from_directory", "keep_aspect_ratio", "pad_to_aspect_ratio"} <= covered
    assert "notes" not in covered  # the header row is not code
