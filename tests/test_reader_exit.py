"""A process that used several loaders exits cleanly (loader/reading.py, ``DeadlineReader``).

Deleting a reader wakes its idle helper thread so that it ends; the reader now also waits for
it. Before that wait, a helper still on its way out when the interpreter began finalizing was
killed mid-exit and the whole process aborted ("terminate called without an active exception",
exit code 134: a torchrun job fails although every rank finished), in about half the runs of
the script below.
"""

from __future__ import annotations

import subprocess
import sys

from _subproc import repo_env
from _trees import indexed_tree

SCRIPT = """
import sys
import kdir_torch as kt

def main(root):
    ds = kt.KerasDirDataset(root, target_size=(6, 5), verbose=False)
    keep = []
    for seed in range(8):
        loader = kt.make_loader(ds, batch_size=3, num_workers=0, seed=seed, timeout=300)
        assert sum(len(x) for x, _ in loader) == 5
        keep.append(loader)
    print("done", flush=True)

main(sys.argv[1])
"""


def test_process_with_several_loaders_exits_cleanly(tmp_path):
    root = indexed_tree(tmp_path / "root", {"a": 3, "b": 2})
    script = tmp_path / "many_loaders.py"
    script.write_text(SCRIPT)
    procs = [subprocess.Popen([sys.executable, str(script), root], env=repo_env(), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert out.strip() == "done"
        assert proc.returncode == 0, err[-2000:]
