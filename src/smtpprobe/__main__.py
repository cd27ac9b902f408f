"""``python -m smtpprobe``."""

from __future__ import annotations

import sys

from smtpprobe.cli import main

if __name__ == "__main__":
    sys.exit(main())
