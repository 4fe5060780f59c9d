"""Multi-worker training with ``kt.make_loader`` and mixed precision, on CUDA when present.

Workers decode uint8 images; the loader moves each batch to the device, converts and augments
it there (``kt.Augment``), in ``channels_last`` memory format. The step runs under
``torch.autocast`` (bfloat16 on CPU, float16 on CUDA with a ``GradScaler``). Without a GPU it
falls back to the CPU and says so.

    python examples/train_gpu.py                  # a generated 4-class shape tree, 10 epochs
    python examples/train_gpu.py --quick          # small tree, 2 epochs, 2 workers
    python examples/train_gpu.py --data DIR --workers 8 --device cpu
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import torch

import kdir_torch as kt
from kdir_torch.demo import build_demo_tree, small_cnn


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="image tree DIR/<class>/<image> (default: a generated one)")
    p.add_argument("--quick", action="store_true", help="small tree, 2 epochs (seconds)")
    p.add_argument("--epochs", type=int, help="default: 10 (2 with --quick)")
    p.add_argument("--workers", type=int, help="decoding processes (default: 2, max 8)")
    p.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    p.add_argument("--batch-size", type=int, default=32)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    epochs = args.epochs or (2 if args.quick else 10)
    size = 32 if args.quick else 48
    workers = args.workers if args.workers is not None else min(2, os.cpu_count() or 1)
    data = args.data
    if data is None:
        data = build_demo_tree(tempfile.mkdtemp(prefix="kdir-train-gpu-"), classes=4,
                               per_class=16 if args.quick else 80, size=size)
        print(f"Generated a shape tree in {data}")

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print("CUDA requested but not available: falling back to the CPU")
        device = torch.device("cpu")
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {device.type} ({name}), autocast {str(amp_dtype).removeprefix('torch.')}, "
          f"{workers} worker(s)")

    torch.manual_seed(0)
    ds = kt.KerasDirDataset(data, target_size=(size, size), class_mode="sparse",
                            interpolation="bilinear")
    val, tr = kt.split(ds, [0.2], seed=0)
    loader = kt.make_loader(
        tr, batch_size=args.batch_size, device=device, num_workers=workers, channels_last=True,
        augment=kt.Augment(rotation_range=20, width_shift_range=0.1, height_shift_range=0.1,
                           horizontal_flip=True, fill_mode="reflect"),
        seed=0)
    model = small_cnn(len(ds.class_names)).to(device, memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    # float16 needs loss scaling; bfloat16 (CPU) has float32's range and does not
    scaler = torch.amp.GradScaler("cuda") if device.type == "cuda" else None
    print(f"{len(tr)} training / {len(val)} validation images, {len(loader)} batches/epoch")

    t0 = time.perf_counter()
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        model.train()
        total, seen, te = 0.0, 0, time.perf_counter()
        for x, y in loader:  # x: (B, 3, H, W) float32 0..255 on `device`, channels_last
            with torch.autocast(device_type=device.type, dtype=amp_dtype):
                loss = torch.nn.functional.cross_entropy(model(x), y.long())
            opt.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            total, seen = total + loss.item() * len(y), seen + len(y)
        dt = time.perf_counter() - te
        print(f"epoch {epoch + 1}/{epochs}: loss {total / seen:.3f}, "
              f"{seen / dt:.0f} images/s", flush=True)

    with torch.autocast(device_type=device.type, dtype=amp_dtype):
        logits = kt.predict(model, val, device=device, num_workers=workers)
    pred = logits.float().argmax(1).numpy()
    accuracy = float((pred == np.asarray(val.classes)).mean())
    print(f"validation accuracy: {accuracy:.3f} ({len(val)} images)")
    print(f"done in {time.perf_counter() - t0:.1f} s on {device.type}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
