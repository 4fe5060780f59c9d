"""docs/keras-semantics.md: every section citation resolves, headings are ordered and unique.

Code, tests and documents cite the behavioural rules as ``§A4`` / ``§A4.3`` (short for
``docs/keras-semantics.md §A4.3``). A citation names the heading that starts with that number
(``## A4. File discovery and ordering``, ``### A4.3 Extension filter ...``). These tests keep
the citations and the document in step.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "keras-semantics.md"
#: Where citations may appear (directories are searched recursively).
CITING = ("kdir_torch", "tests", "scripts", "examples", "README.md", "docs")
SUFFIXES = {".py", ".md", ".rst", ".txt", ".toml", ".cfg", ".yaml", ".yml"}

CITATION = re.compile(r"§([A-G][0-9]+(?:\.[0-9]+)?)")
SECTION_HEADING = re.compile(r"^(#{2,4})\s+([A-G])([0-9]+)(?:\.([0-9]+))?(?=[.\s])")
PART_HEADING = re.compile(r"^#\s+Part\s+([A-G])\b")


def _doc_lines() -> list[str]:
    """The document's lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def section_headings(lines: list[str]) -> list[tuple[str, str, int, int | None, int]]:
    """``(id, letter, major, minor, level)`` of every numbered heading, in document order."""
    out = []
    for line in lines:
        m = SECTION_HEADING.match(line)
        if m:
            hashes, letter, major, minor = m.groups()
            ident = f"{letter}{major}" + (f".{minor}" if minor is not None else "")
            out.append((ident, letter, int(major), None if minor is None else int(minor), len(hashes)))
    return out


def citing_files() -> list[Path]:
    files = []
    for name in CITING:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(p for p in sorted(path.rglob("*"))
                         if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts)
    this = Path(__file__).resolve()
    return [p for p in files if p.resolve() != this]  # this file's strings are test data


def citations(files: list[Path] | None = None) -> dict[str, list[str]]:
    """``{section id: ["path:line", ...]}`` for every ``§X`` citation in ``files``.

    ``files`` defaults to the code base (``citing_files()``).
    """
    found: dict[str, list[str]] = {}
    for path in citing_files() if files is None else files:
        text = path.read_text(encoding="utf-8", errors="replace")
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
        for lineno, line in enumerate(text.splitlines(), 1):
            for m in CITATION.finditer(line):
                found.setdefault(m.group(1), []).append(f"{where}:{lineno}")
    return found


def missing_sections(cited: dict[str, list[str]], headings: set[str]) -> dict[str, list[str]]:
    return {sec: where for sec, where in sorted(cited.items()) if sec not in headings}


def test_document_exists_and_has_the_parts():
    lines = _doc_lines()
    parts = [m.group(1) for line in lines if (m := PART_HEADING.match(line))]
    assert parts == list("ABCDEFG"), parts


def test_every_citation_names_a_heading():
    headings = {h[0] for h in section_headings(_doc_lines())}
    cited = citations()
    assert cited, "no § citations found: the search is broken"
    missing = missing_sections(cited, headings)
    assert not missing, "cited sections without a heading in docs/keras-semantics.md:\n" + "\n".join(
        f"  §{sec}: {', '.join(where[:5])}" for sec, where in missing.items()
    )


def test_a_missing_section_is_detected(tmp_path):
    """The check fails for a citation of a section the document does not have."""
    fake = tmp_path / "fake_module.py"
    fake.write_text('"""See KERAS_SPEC §A99.7 and §A4.1; also §Q1."""\n', encoding="utf-8")
    headings = {h[0] for h in section_headings(_doc_lines())}
    missing = missing_sections(citations([*citing_files(), fake]), headings)
    assert missing.get("A99.7") == ["fake_module.py:1"]
    assert "A4.1" not in missing  # a real section is found; "§Q1" is not a citation


def test_citation_pattern():
    text = "§A4.3, §A8.2-§A8.4, §A3–§A5, KERAS_SPEC §A9. and §B1.1 (§A12)"
    assert CITATION.findall(text) == ["A4.3", "A8.2", "A8.4", "A3", "A5", "A9", "B1.1", "A12"]


def test_no_todo_or_tbd():
    text = DOC.read_text(encoding="utf-8")
    hits = [f"{i}: {line.strip()}" for i, line in enumerate(text.splitlines(), 1)
            if re.search(r"\b(TODO|TBD|FIXME|XXX)\b", line)]
    assert not hits, hits


def test_headings_are_unique_and_in_order():
    lines = _doc_lines()
    headings = section_headings(lines)
    ids = [h[0] for h in headings]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"duplicate headings: {duplicates}"
    keys = [(letter, major, -1 if minor is None else minor) for _, letter, major, minor, _ in headings]
    out_of_order = [(ids[i - 1], ids[i]) for i in range(1, len(keys)) if keys[i] <= keys[i - 1]]
    assert not out_of_order, f"headings out of order: {out_of_order}"


def test_subsections_sit_under_their_section_and_part():
    """``A4.1`` follows ``A4`` at a deeper level; every section lies inside its ``Part``."""
    part = None
    seen: dict[str, int] = {}
    for line in _doc_lines():
        m = PART_HEADING.match(line)
        if m:
            part = m.group(1)
            continue
        h = section_headings([line])
        if not h:
            continue
        ident, letter, major, minor, level = h[0]
        assert letter == part, f"{ident} is not inside Part {letter} (it is in Part {part})"
        if minor is None:
            seen[f"{letter}{major}"] = level
        else:
            parent = f"{letter}{major}"
            assert parent in seen, f"{ident} has no heading {parent} before it"
            assert level > seen[parent], f"{ident} is not nested below {parent}"


@pytest.mark.parametrize("section", ["A4.1", "A4.5", "A8.2", "A8.4", "A11.1", "A11.5",
                                     "A12.1", "A12.3", "B1.1", "B1.9"])
def test_subsections_cited_by_number_exist(section):
    """Subsections the code base cites by step number (the numbered steps of docs/keras-semantics.md) are headings."""
    assert section in {h[0] for h in section_headings(_doc_lines())}
