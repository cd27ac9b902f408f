"""Findings with their words, for tests that check what a reader is told."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from smtpprobe.errors import SMTPProbeError
from smtpprobe.kb import KnowledgeBase, load
from smtpprobe.report import Finding
from smtpprobe.views.errors import localized
from smtpprobe.views.findings import word


@dataclass(frozen=True)
class Read:
    """A finding as a reader sees it: every field of the finding, plus summary and advice."""

    finding: Finding
    summary: str
    advice: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.finding, name)


def read(finding: Finding, kb: KnowledgeBase | None = None) -> Read:
    """*finding* worded in *kb*'s language (English by default)."""
    worded = word(finding, kb or load("en"))
    return Read(finding, worded.summary, worded.advice)


def english(error: SMTPProbeError) -> tuple[str, str]:
    """An error's message and hint as an English reader sees them."""
    return localized(error, load("en"))
