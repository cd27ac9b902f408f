"""The probe's dialogue done with nothing but the standard library: the benchmark baseline.

Sends what ``smtpprobe probe`` sends (EHLO, HELP, HELP VRFY, then VRFY and
EXPN of postmaster and of a random control name, NOOP, RSET, QUIT) and prints every reply,
so the difference to the probe is what the probe adds: parsing, interpretation, notes.
Usage: ``python3 bench/smtplib_baseline.py HOST:PORT``.
"""

from __future__ import annotations

import secrets
import smtplib
import sys

HELO = "smtpprobe.invalid"


def dialogue(control: str) -> list[tuple[str, str]]:
    """The commands after EHLO, as (verb, argument) pairs, in the probe's order."""
    return [
        ("HELP", ""),
        ("HELP", "VRFY"),
        ("VRFY", "postmaster"),
        ("VRFY", control),
        ("EXPN", "postmaster"),
        ("EXPN", control),
        ("NOOP", ""),
        ("RSET", ""),
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 1 or ":" not in argv[0]:
        print("usage: smtplib_baseline.py HOST:PORT", file=sys.stderr)
        return 3
    host, _, port = argv[0].rpartition(":")
    client = smtplib.SMTP(local_hostname=HELO, timeout=30)
    code, text = client.connect(host, int(port))
    print(f"<- {code} {text.decode(errors='replace')}")
    code, text = client.ehlo()
    print(f"-> EHLO {HELO}\n<- {code} {text.decode(errors='replace')}")
    for verb, argument in dialogue(f"smtpprobe-{secrets.token_hex(6)}"):
        code, text = client.docmd(verb, argument)
        print(f"-> {verb} {argument}".rstrip() + f"\n<- {code} {text.decode(errors='replace')}")
    code, text = client.docmd("QUIT")
    print(f"-> QUIT\n<- {code} {text.decode(errors='replace')}")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
