"""One rank of the DDP test (launched by tests/test_ddp.py through torch.distributed.run).

Usage: ``python -m torch.distributed.run --nproc_per_node=2 ... ddp_worker.py ROOT OUT SEED``.
Each rank writes ``OUT/rank{r}.json`` with the dataset indices it read per epoch and the
predictions gathered back in ``filenames`` order.
"""

from __future__ import annotations

import json
import os
import sys

import torch
import torch.distributed as dist


def main(root: str, out: str, seed: int) -> None:
    dist.init_process_group("gloo")
    from kdir_torch.datasets import KerasDirDataset
    from kdir_torch.loader import gather_predictions, make_loader

    ds = KerasDirDataset(root, target_size=(6, 5), class_mode="sparse", verbose=False)
    loader = make_loader(ds, batch_size=3, seed=seed, num_workers=0, return_indices=True)
    report = {"rank": dist.get_rank(), "replicas": loader.sampler.num_replicas,
              "len": len(loader), "epochs": [], "gathered": [], "labels": []}
    for epoch in (0, 1, 0):  # auto-advance to 1, then set_epoch(0) replays epoch 0
        if epoch == 0:
            loader.set_epoch(0)
        preds, labels, seen = [], [], []
        for x, y, idx in loader:
            preds.append(x[:, 0, 0, 0])  # "model": channel 0 encodes the file position
            labels.append(y)
            seen.append(idx)
        idx = torch.cat(seen)
        report["epochs"].append(idx.tolist())
        report["gathered"].append(gather_predictions(torch.cat(preds), idx, len(ds)).tolist())
        report["labels"].append(gather_predictions(torch.cat(labels), idx, len(ds)).tolist())
    report["classes"] = ds.classes.tolist()
    with open(os.path.join(out, f"rank{dist.get_rank()}.json"), "w") as fh:
        json.dump(report, fh)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
