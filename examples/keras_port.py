"""A Keras ``ImageDataGenerator`` training script, ported line by line to kdir_torch.

Every kdir_torch line is preceded by the Keras original it replaces (``# keras: ...``). The
generator, ``flow_from_directory``, its subsets, ``filenames`` and ``class_indices`` keep
Keras's names and semantics; only the model and the training loop become plain PyTorch.

    python examples/keras_port.py                 # a generated 3-class shape tree, 8 epochs
    python examples/keras_port.py --quick         # fewer, smaller images, 2 epochs
    python examples/keras_port.py --data DIR      # your own DIR/<class>/<image> tree

Batches come in Keras's layout, channels_last ``(B, H, W, C)``. Two ways to feed a torch
CNN (``(B, C, H, W)``): permute each batch (the default here), or ask the generator for
``data_format="channels_first"`` (``--channels-first``) and feed the batches as they are.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

# keras: import numpy as np
import numpy as np
import torch
from torch import nn

# keras: from tensorflow.keras.preprocessing.image import ImageDataGenerator
import kdir_torch as kt
from kdir_torch.demo import build_demo_tree


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="image tree DIR/<class>/<image> (default: a generated one)")
    p.add_argument("--quick", action="store_true", help="small tree, 2 epochs (seconds)")
    p.add_argument("--epochs", type=int, help="default: 8 (2 with --quick)")
    p.add_argument("--channels-first", action="store_true",
                   help='data_format="channels_first" instead of permuting each batch')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    epochs = args.epochs or (2 if args.quick else 8)
    size = 24 if args.quick else 32
    data = args.data
    if data is None:
        data = build_demo_tree(tempfile.mkdtemp(prefix="kdir-keras-port-"), classes=3,
                               per_class=12 if args.quick else 60, size=size)
        print(f"Generated a shape tree in {data}")
    torch.manual_seed(0)
    t0 = time.perf_counter()
    data_format = "channels_first" if args.channels_first else "channels_last"

    # keras: datagen = ImageDataGenerator(rescale=1./255, rotation_range=20,
    # keras:                              horizontal_flip=True, validation_split=0.2)
    datagen = kt.ImageDataGenerator(rescale=1. / 255, rotation_range=20,
                                    horizontal_flip=True, validation_split=0.2,
                                    data_format=data_format)
    # keras: valgen = ImageDataGenerator(rescale=1./255, validation_split=0.2)
    valgen = kt.ImageDataGenerator(rescale=1. / 255, validation_split=0.2,
                                   data_format=data_format)
    # keras: train_it = datagen.flow_from_directory(data, target_size=(size, size), batch_size=16,
    # keras:                                        class_mode="sparse", subset="training", seed=0)
    train_it = datagen.flow_from_directory(data, target_size=(size, size), batch_size=16,
                                           class_mode="sparse", subset="training", seed=0)
    # keras: val_it = valgen.flow_from_directory(data, target_size=(size, size), batch_size=16,
    # keras:                                     class_mode="sparse", subset="validation",
    # keras:                                     shuffle=False)
    val_it = valgen.flow_from_directory(data, target_size=(size, size), batch_size=16,
                                        class_mode="sparse", subset="validation",
                                        shuffle=False)
    # keras: num_classes = train_it.num_classes
    num_classes = train_it.num_classes
    print(f"class_indices: {train_it.class_indices}; data_format={data_format}")

    # keras: model = Sequential([Conv2D(16, 3, padding="same", activation="relu"), MaxPool2D(),
    # keras:     Conv2D(32, 3, padding="same", activation="relu"), MaxPool2D(),
    # keras:     GlobalAveragePooling2D(), Dense(num_classes)])
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1),
                          nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes))
    # keras: model.compile(optimizer=Adam(3e-3),
    # keras:               loss=SparseCategoricalCrossentropy(from_logits=True))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()

    def to_nchw(x: torch.Tensor) -> torch.Tensor:
        # Keras batches are (B, H, W, C); a torch Conv2d wants (B, C, H, W)
        return x if args.channels_first else x.permute(0, 3, 1, 2)

    # keras: model.fit(train_it, epochs=epochs)
    for epoch in range(epochs):
        model.train()
        total, seen = 0.0, 0
        for _ in range(len(train_it)):  # one Keras epoch: len(it) batches, reshuffled after
            x, y = next(train_it)
            logits = model(to_nchw(x))
            loss = loss_fn(logits, y.long())
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, seen = total + loss.item() * len(y), seen + len(y)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / seen:.3f}", flush=True)

    # keras: probs = model.predict(val_it)
    model.eval()
    val_it.reset()
    with torch.no_grad():
        probs = torch.cat([model(to_nchw(next(val_it)[0])).softmax(1)
                           for _ in range(len(val_it))])
    # keras: pred = np.argmax(probs, axis=1)
    pred = np.argmax(probs.numpy(), axis=1)
    # keras: accuracy = np.mean(pred == val_it.classes)
    accuracy = np.mean(pred == val_it.classes)
    print(f"validation accuracy: {accuracy:.3f} ({int((pred == val_it.classes).sum())}/"
          f"{val_it.n})")
    # keras: names = {v: k for k, v in val_it.class_indices.items()}
    names = {v: k for k, v in val_it.class_indices.items()}
    # keras: for f, p in list(zip(val_it.filenames, pred))[:5]: print(f, "->", names[p])
    for f, p in list(zip(val_it.filenames, pred))[:5]:
        print(f"  {f} -> {names[int(p)]}")
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
