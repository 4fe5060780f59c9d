"""docs/robustness.md names real tests: every ``test_*`` name it cites is defined in tests/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_cited_test_exists():
    doc = (ROOT / "docs" / "robustness.md").read_text(encoding="utf-8")
    cited = set(re.findall(r"\btest_[a-z0-9_]+", doc)) - {"test_robustness_inputs",
                                                          "test_robustness_loader",
                                                          "test_reader_exit", "test_loader",
                                                          "test_loader_determinism"}
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^\s*def (test_[a-z0-9_]+)", path.read_text(encoding="utf-8"),
                                  flags=re.M))
    assert len(cited) > 30
    assert sorted(cited - defined) == []
