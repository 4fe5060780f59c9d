"""DDP training under torchrun: ``make_loader`` shards every epoch over the ranks by itself.

    torchrun --nproc_per_node=2 examples/ddp_torchrun.py --quick
    torchrun --nproc_per_node=2 examples/ddp_torchrun.py --data DIR --csv preds.csv

gloo on CPU, nccl on CUDA (one GPU per rank, ``LOCAL_RANK``). ``kt.make_loader`` detects the
process group and gives each rank a disjoint shard of every epoch (reshuffled per epoch with
``set_epoch``); ``kt.predict(model, val)`` runs each rank's shard and gathers the whole
validation part on every rank, rows in ``val.filenames`` order. Rank 0 prints the accuracy
and writes ``filename,class`` rows to a CSV.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

import kdir_torch as kt
from kdir_torch.demo import build_demo_tree, small_cnn


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="image tree DIR/<class>/<image> (default: a generated one)")
    p.add_argument("--quick", action="store_true", help="small tree, 2 epochs (seconds)")
    p.add_argument("--epochs", type=int, help="default: 8 (2 with --quick)")
    p.add_argument("--csv", help="predictions CSV written by rank 0 "
                                 "(default: predictions.csv in a new temp dir)")
    p.add_argument("--workers", type=int, default=0, help="decoding processes per rank")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if "RANK" not in os.environ:
        sys.exit("run me under torchrun: torchrun --nproc_per_node=2 "
                 "examples/ddp_torchrun.py --quick")
    cuda = torch.cuda.is_available()
    if cuda:
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    epochs = args.epochs or (2 if args.quick else 8)
    size = 32 if args.quick else 48

    data = [args.data]
    if data[0] is None and rank == 0:  # rank 0 draws the tree, every rank reads it
        data[0] = build_demo_tree(tempfile.mkdtemp(prefix="kdir-ddp-"), classes=3,
                                  per_class=12 if args.quick else 80, size=size)
        print(f"Generated a shape tree in {data[0]}", flush=True)
    dist.broadcast_object_list(data, src=0)
    if rank == 0:
        print(f"backend: {dist.get_backend()}, world size {world}, device: {device.type}",
              flush=True)

    torch.manual_seed(0)  # the same initial weights on every rank (DDP also broadcasts them)
    ds = kt.KerasDirDataset(data[0], target_size=(size, size), class_mode="sparse",
                            interpolation="bilinear")
    val, tr = kt.split(ds, [0.2], seed=0)
    loader = kt.make_loader(tr, batch_size=8, device=device, num_workers=args.workers,
                            augment=kt.Augment(rotation_range=15, horizontal_flip=True), seed=0)
    model = DDP(small_cnn(len(ds.class_names)).to(device),
                device_ids=[device.index] if cuda else None)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    print(f"rank {rank}: {len(loader)} batches/epoch of {len(tr)} training images", flush=True)

    t0 = time.perf_counter()
    for epoch in range(epochs):
        loader.set_epoch(epoch)  # a new shuffle, the same on every rank, cut into shards
        model.train()
        total = torch.zeros(2, device=device)
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(model(x), y.long())
            opt.zero_grad()
            loss.backward()  # DDP averages the gradients over the ranks
            opt.step()
            total += torch.stack([loss.detach() * len(y), torch.tensor(len(y), device=device)])
        dist.all_reduce(total)
        if rank == 0:
            print(f"epoch {epoch + 1}/{epochs}: loss {(total[0] / total[1]).item():.3f}",
                  flush=True)

    logits = kt.predict(model, val, device=device, num_workers=args.workers)
    pred = logits.argmax(1).numpy()  # every rank: all of val, in val.filenames order
    assert len(pred) == len(val.filenames)
    if rank == 0:
        accuracy = float((pred == np.asarray(val.classes)).mean())
        print(f"validation accuracy: {accuracy:.3f} ({len(val)} images, gathered from "
              f"{world} ranks)")
        path = args.csv or os.path.join(tempfile.mkdtemp(prefix="kdir-ddp-out-"),
                                        "predictions.csv")
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["filename", "class"])
            w.writerows((fn, ds.class_names[p]) for fn, p in zip(val.filenames, pred))
        print(f"predictions: {path}")
        print(f"done in {time.perf_counter() - t0:.1f} s")
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
