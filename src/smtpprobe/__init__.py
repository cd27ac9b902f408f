"""smtpprobe: probe a live SMTP server, record every reply and explain what it means."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
