"""What a test needs from the machine: skipped where it may be missing, a failure where the
test command promised it (``scripts/test`` as root sets ``SMTPPROBE_REQUIRE_TOOLS=1``
after ``scripts/setup.sh`` installed everything)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Fail when the machine should have had it, else skip with *reason*."""
    if os.environ.get("SMTPPROBE_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{reason} (required: SMTPPROBE_REQUIRE_TOOLS=1)")
    pytest.skip(reason)
