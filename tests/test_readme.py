"""The README's promises that a test can hold it to: the table of reason keys is complete."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import smtpprobe

ROOT = Path(__file__).resolve().parent.parent
FINDINGS = Path(smtpprobe.__file__).parent / "kb" / "data" / "en" / "findings"
# Words files shared by several checks, named in the table by the checks that use them.
FAMILY = {
    "verdict": "vrfy, expn, rcpt",
    "expect": "expect-vrfy, expect-expn, expect-rcpt, expect-smuggling, expect-relay",
    "policy": "every policy",
}


def test_every_reason_key_is_in_the_readme_table() -> None:
    words = set()
    for path in FINDINGS.glob("*.toml"):
        for reason, fields in tomllib.loads(path.read_text(encoding="utf-8")).items():
            if isinstance(fields, dict) and "summary" in fields:
                words.add((FAMILY.get(path.stem, path.stem), reason))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Findings and their reason keys", 1)[1].split("\n## ", 1)[0]
    table = set(re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", section, re.MULTILINE))
    assert words - table == set(), "reason keys missing from the README's table"
    assert table - words == set(), "the README's table names reason keys that do not exist"
