"""Docs that match the code: the topic table, and every document the code points to exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from fog_contract.topics import CONTRACT

ROOT = Path(__file__).resolve().parents[1]
DOC_REF = re.compile(r"(?<![\w/.-])((?:\.\./)*(?:[\w-]+/)*[A-Z][A-Z_]+\.md)")


def test_architecture_topic_table_is_the_contract():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split("## Topic contract", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("topic", "---"):
            rows[cells[0]] = cells[1:]
    assert set(rows) == set(CONTRACT), f"table {sorted(rows)} vs contract {sorted(CONTRACT)}"
    for name, (msg_type, rate, qos) in rows.items():
        t = CONTRACT[name]
        assert msg_type == t.type, name
        assert rate == ("on events" if t.rate_hz is None else f"{t.rate_hz:g}"), name
        assert qos == ("sensor" if t.sensor else "reliable"), name


def test_every_document_the_code_and_docs_point_to_exists():
    files = subprocess.check_output(["git", "ls-files", "*.py", "*.md", "*.yaml", "Makefile"], cwd=ROOT, text=True)
    missing = []
    for rel in files.split():
        path = ROOT / rel
        if not path.is_file():
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for ref in DOC_REF.findall(line):
                candidates = [path.parent / ref, ROOT / ref, ROOT / "docs" / Path(ref).name]
                if not any(c.is_file() for c in candidates):
                    missing.append(f"{rel}:{n}: {ref}")
    assert not missing, "references to documents that are not in the repository:\n" + "\n".join(missing)
