"""The words of a finding: ``kb/data/<lang>/findings/<check>.toml``, one table per reason.

A stop-gap reader until the knowledge base loads these files itself; English fills in
a table or key the language lacks.
"""

from __future__ import annotations

import functools
import os
import tomllib
from typing import Any

from smtpprobe.kb.store import DATA_DIR

__all__ = ["finding_words"]


@functools.cache
def _table(lang: str, check: str) -> dict[str, Any]:
    try:
        with open(os.path.join(DATA_DIR, lang, "findings", f"{check}.toml"), "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}


def finding_words(lang: str, check: str, reason: str, params: dict[str, Any]) -> tuple[str, str]:
    """(summary, advice) of *reason*, filled in with *params*; advice may be ``""``."""
    words = {**_table("en", check).get(reason, {}), **_table(lang, check).get(reason, {})}
    summary = str(words.get("summary", reason)).format(**params)
    return summary, str(words.get("advice", "")).format(**params)
