"""One rank of the workflows DDP test (launched by tests/test_workflows_ddp.py via torchrun).

Usage: ``python -m torch.distributed.run --nproc_per_node=2 ... ddp_workflows_worker.py ROOT
OUT``. Each rank writes ``OUT/rank{r}.json``: what ``kt.predict`` gathered (from a shuffled
loader, from the dataset itself, from a split part) and the indices its balanced loader read.
"""

from __future__ import annotations

import json
import os
import sys

import torch.distributed as dist


def position(x):
    """A "model": channel 0 of every pixel encodes the file position."""
    return x[:, 0, 0, 0:1]


def main(root: str, out: str) -> None:
    dist.init_process_group("gloo")
    import kdir_torch as kt

    ds = kt.KerasDirDataset(root, target_size=(6, 5), class_mode="sparse", verbose=False)
    shuffled = kt.make_loader(ds, batch_size=3, shuffle=True, num_workers=1, seed=4)
    _, part = kt.split(ds, [0.3], seed=2)
    balanced = kt.make_loader(ds, batch_size=2, num_workers=0, seed=5, max_per_class=2,
                              return_indices=True)
    report = {
        "rank": dist.get_rank(),
        "replicas": shuffled.sampler.num_replicas,
        "shuffled": kt.predict(position, shuffled)[:, 0].tolist(),
        "dataset": kt.predict(position, ds, batch_size=4, num_workers=0)[:, 0].tolist(),
        "part": kt.predict(position, part, batch_size=2, num_workers=0)[:, 0].tolist(),
        "part_indices": part.parent_indices.tolist(),
        "balanced_len": len(balanced),
        "balanced": [[i for *_, idx in balanced for i in idx.tolist()] for _ in range(2)],
        "classes": ds.classes.tolist(),
    }
    with open(os.path.join(out, f"rank{dist.get_rank()}.json"), "w") as fh:
        json.dump(report, fh)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
