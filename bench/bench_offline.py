"""Benchmark of the offline commands: `annotate` throughput against grep, `explain` start-up.

Run with ``python3 bench/bench_offline.py``. It writes a realistic million-line Postfix log to
a temporary directory, times ``smtpprobe annotate FILE --format json > /dev/null`` against
``grep -cE 'said: [245][0-9][0-9]|dsn=[245]\\.' FILE`` (median of 3 each; grep writes to a
pipe, since GNU grep stops at the first match when its output is /dev/null), and the start-up
of ``smtpprobe explain 252`` against ``python3 -S -c pass`` (median of 20 each, stdout to a
pipe). Medians and ratios are printed and written to ``bench/results/offline.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import median_seconds, smtpprobe_argv, use_bytecode_cache

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "offline.json"
GREP_PATTERN = r"said: [245][0-9][0-9]|dsn=[245]\."
ANNOTATE_TARGET = 10.0
STARTUP_TARGET = 6.0

_HOSTS = ["mx1.example.org", "mx.example.net", "aspmx.l.google.com", "mail.example.com"]
_USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
_DOMAINS = ["example.org", "example.net", "example.com", "gmail.com"]

# (weight, dsn, status, parenthesised text) for the ~10 % of lines that carry a reply.
_REPLY_LINES = [
    (
        30,
        "5.1.1",
        "bounced",
        (
            "host {host}[{ip}] said: 550 5.1.1 <{rcpt}>: Recipient address "
            "rejected: User unknown in local recipient table (in reply to RCPT TO command)"
        ),
    ),
    (
        15,
        "4.7.1",
        "deferred",
        (
            "host {host}[{ip}] said: 450 4.7.1 <{rcpt}>: Recipient address "
            "rejected: Greylisted, see http://postgrey.schweikert.ch/help/{dom}.html "
            "(in reply to RCPT TO command)"
        ),
    ),
    (
        10,
        "5.1.1",
        "bounced",
        (
            "host {host}[{ip}] said: 550-5.1.1 The email account that you "
            "tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's "
            "email address for typos or 550-5.1.1 unnecessary spaces. For more information, go to "
            "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser {gid} - gsmtp "
            "(in reply to RCPT TO command)"
        ),
    ),
    (
        10,
        "5.7.1",
        "bounced",
        (
            "host {host}[{ip}] said: 554 5.7.1 Service unavailable; Client "
            "host [{myip}] blocked using zen.spamhaus.org; "
            "https://www.spamhaus.org/query/ip/{myip} (in reply to RCPT TO command)"
        ),
    ),
    (10, "4.4.1", "deferred", "connect to {host}[{ip}]:25: Connection timed out"),
    (
        8,
        "5.2.2",
        "bounced",
        (
            "host {host}[{ip}] said: 552 5.2.2 <{rcpt}>: Mailbox full "
            "(in reply to end of DATA command)"
        ),
    ),
    (
        7,
        "4.3.0",
        "deferred",
        (
            "host {host}[{ip}] said: 421 4.3.0 Temporary System Problem. "
            "Try again later (in reply to end of DATA command)"
        ),
    ),
    (
        5,
        "5.0.0",
        "bounced",
        (
            "host {host}[{ip}] said: 550 Requested action not taken: "
            "mailbox unavailable (in reply to RCPT TO command)"
        ),
    ),
    (
        5,
        "4.4.2",
        "deferred",
        ("conversation with {host}[{ip}] timed out while receiving the initial server greeting"),
    ),
]

_OTHER_LINES = [
    "postfix/smtpd[{pid}]: connect from {client}[{cip}]",
    "postfix/smtpd[{pid}]: {qid}: client={client}[{cip}]",
    "postfix/cleanup[{pid}]: {qid}: message-id=<{qid}.{pid}@{dom}>",
    "postfix/qmgr[{pid}]: {qid}: from=<{sender}>, size={size}, nrcpt=1 (queue active)",
    (
        "postfix/smtpd[{pid}]: disconnect from {client}[{cip}] ehlo=2 starttls=1 mail=1 rcpt=1 "
        "data=1 quit=1 commands=7"
    ),
    "postfix/qmgr[{pid}]: {qid}: removed",
    (
        "postfix/smtp[{pid}]: Trusted TLS connection established to {host}[{ip}]:25: TLSv1.3 "
        "with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"
    ),
    (
        "postfix/smtpd[{pid}]: Anonymous TLS connection established from {client}[{cip}]: "
        "TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)"
    ),
    "postfix/smtpd[{pid}]: lost connection after EHLO from unknown[{cip}]",
    "postfix/pickup[{pid}]: {qid}: uid=1000 from=<{sender}>",
]


def _qid(rng: random.Random) -> str:
    """A Postfix queue id (short hexadecimal form)."""
    return f"{rng.getrandbits(40):010X}"


def generate_log(path: Path, lines: int = 1_000_000, seed: int = 25) -> int:
    """Write *lines* Postfix log lines to *path*; return how many carry a reply (``dsn=``)."""
    rng = random.Random(seed)
    weights = [w for w, *_ in _REPLY_LINES]
    replies = 0
    with path.open("w", encoding="utf-8") as out:
        for n in range(lines):
            stamp = f"Nov 28 {n // 3_600_000 % 24:02d}:{n // 60_000 % 60:02d}:{n // 1000 % 60:02d}"
            values = {
                "pid": rng.randint(1000, 65000),
                "qid": _qid(rng),
                "host": rng.choice(_HOSTS),
                "ip": f"203.0.113.{rng.randint(1, 254)}",
                "myip": f"198.51.100.{rng.randint(1, 254)}",
                "client": f"mail{rng.randint(1, 999)}.example.net",
                "cip": f"192.0.2.{rng.randint(1, 254)}",
                "dom": rng.choice(_DOMAINS),
                "rcpt": f"{rng.choice(_USERS)}{rng.randint(1, 99999)}@{rng.choice(_DOMAINS)}",
                "sender": f"{rng.choice(_USERS)}@example.net",
                "size": rng.randint(800, 90000),
                "gid": f"a640c23a62f3a-{_qid(rng).lower()}si{rng.randint(100000, 999999)}",
            }
            if rng.random() < 0.10:
                replies += 1
                _w, dsn, status, text = rng.choices(_REPLY_LINES, weights)[0]
                body = (
                    f"postfix/smtp[{values['pid']}]: {values['qid']}: to=<{values['rcpt']}>, "
                    f"relay={values['host']}[{values['ip']}]:25, delay={rng.uniform(0, 9):.1f}, "
                    f"delays=0.1/0/0.3/0.2, dsn={dsn}, status={status} ("
                    + text.format(**values)
                    + ")"
                )
            else:
                body = rng.choice(_OTHER_LINES).format(**values)
            out.write(f"{stamp} mail {body}\n")
    return replies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--startup-runs", type=int, default=20)
    args = parser.parse_args()
    smtpprobe = smtpprobe_argv()
    with tempfile.TemporaryDirectory(prefix="smtpprobe-bench-") as tmp:
        use_bytecode_cache(Path(tmp) / "pycache")
        log = Path(tmp) / "mail.log"
        started = time.perf_counter()
        expected = generate_log(log, args.lines)
        print(
            f"generated {args.lines} lines ({log.stat().st_size / 1e6:.0f} MB, "
            f"{expected} with a reply) in {time.perf_counter() - started:.1f} s"
        )
        counted = subprocess.run(
            ["grep", "-cE", GREP_PATTERN, str(log)], capture_output=True, text=True, check=True
        ).stdout.strip()
        found = subprocess.run(
            smtpprobe + ["annotate", str(log), "--format", "json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        summary = json.loads(found.rstrip("\n").rsplit("\n", 1)[-1])
        print(
            f"grep counted {counted} lines; annotate found {summary['found']} replies and statuses"
        )
        # GNU grep treats a /dev/null stdout like -q and stops at the first match: use a pipe.
        grep_s = median_seconds(["grep", "-cE", GREP_PATTERN, str(log)], args.runs, subprocess.PIPE)
        annotate_s = median_seconds(
            smtpprobe + ["annotate", str(log), "--format", "json"], args.runs
        )
    baseline_s = median_seconds(
        [sys.executable, "-S", "-c", "pass"], args.startup_runs, subprocess.PIPE
    )
    site_s = median_seconds([sys.executable, "-c", "pass"], args.startup_runs, subprocess.PIPE)
    # The floor under any click CLI: the interpreter with site and click imported.
    click_s = median_seconds(
        [sys.executable, "-c", "import click"], args.startup_runs, subprocess.PIPE
    )
    explain_s = median_seconds(smtpprobe + ["explain", "252"], args.startup_runs, subprocess.PIPE)
    results = {
        "lines": args.lines,
        "grep_count": int(counted),
        "annotate_found": int(summary["found"]),
        "grep_median_s": round(grep_s, 4),
        "annotate_median_s": round(annotate_s, 4),
        "annotate_ratio": round(annotate_s / grep_s, 2),
        "annotate_target": ANNOTATE_TARGET,
        "python_S_median_s": round(baseline_s, 4),
        "python_site_median_s": round(site_s, 4),
        "explain_median_s": round(explain_s, 4),
        "startup_ratio": round(explain_s / baseline_s, 2),
        "startup_ratio_vs_site": round(explain_s / site_s, 2),
        "python_click_median_s": round(click_s, 4),
        "startup_target": STARTUP_TARGET,
    }
    print(
        f"annotate: {annotate_s:.3f} s vs grep {grep_s:.3f} s -> "
        f"{results['annotate_ratio']}x (target <= {ANNOTATE_TARGET:g}x)"
    )
    print(
        f"explain 252: {explain_s * 1000:.1f} ms vs python3 -S -c pass "
        f"{baseline_s * 1000:.1f} ms -> {results['startup_ratio']}x "
        f"(target <= {STARTUP_TARGET:g}x); python3 -c pass (with site) "
        f"{site_s * 1000:.1f} ms -> {results['startup_ratio_vs_site']}x; python3 -c 'import "
        f"click' {click_s * 1000:.1f} ms"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {os.path.relpath(RESULTS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
