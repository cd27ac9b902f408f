"""Start-up against the floor of our own stack: what smtpprobe adds on top of Python + click.

Run with ``python3 bench/bench_startup.py`` (``--runs N``, default 21; ``--check`` exits 1
when a target is missed). It times, interleaved and in one run, the median wall time of:

- ``smtpprobe probe 127.0.0.1:PORT --tls none`` (the whole CLI: one probe of
  bench/local_server.py, its annotated text to a pipe) against
  ``python -c "import asyncio, ssl, click"``, the libraries the probe is built on;
- ``smtpprobe explain 252`` (text to a pipe) against ``python -c "import click"``.

Targets (issue 15 §2): both ratios <= 1.3x. The same interpreter runs everything, with a
bytecode cache in a temporary directory (as an installed tool has one). Results go to
bench/results/startup.json; ``--importtime`` also prints where each command's imports go
(``python -X importtime``, the slowest of smtpprobe's own modules).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import smtpprobe_argv, use_bytecode_cache
from local_server import running_server

RESULTS = HERE / "results" / "startup.json"
TARGET = 1.3
# name -> (what it is measured against, its target ratio)
PAIRS = {"probe": ("python+asyncio+ssl+click", TARGET), "explain": ("python+click", TARGET)}
# The probe exits 0/1/2 by what it finds; 3 means it could not run at all.
OK_CODES = {"probe": (0, 1, 2)}


def _clients(target: str) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "probe": smtpprobe_argv() + ["probe", target, "--tls", "none"],
        "python+asyncio+ssl+click": [python, "-c", "import asyncio, ssl, click"],
        "explain": smtpprobe_argv() + ["explain", "252"],
        "python+click": [python, "-c", "import click"],
    }


def _time(name: str, argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in OK_CODES.get(name, (0,)):
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: "
                           f"{done.stderr.decode(errors='replace').strip()}")
    return elapsed


def _importtime(argv: list[str], top: int) -> None:
    """The slowest smtpprobe modules of one run, by cumulative import time."""
    script = "import sys; from smtpprobe.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", script, *argv],
                          capture_output=True, text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "[us]" not in line:
            _self, cumulative, name = line.removeprefix("import time:").split("|")
            rows.append((int(cumulative), name.rstrip()))
    total = sum(c for c, name in rows if not name.startswith("  "))
    print(f"\n{' '.join(argv[:2])}: {total / 1000:.1f} ms of imports; slowest smtpprobe modules:")
    own = [(c, n) for c, n in rows if n.strip().startswith("smtpprobe")]
    for cumulative, name in sorted(own, reverse=True)[:top]:
        print(f"  {cumulative / 1000:6.1f} ms {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--importtime", action="store_true",
                        help="also print where each command's imports go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smtpprobe-bench-") as tmp:
        use_bytecode_cache(Path(tmp) / "pycache")
        with running_server() as port:
            clients = _clients(f"127.0.0.1:{port}")
            samples: dict[str, list[float]] = {name: [] for name in clients}
            try:
                for name, argv in clients.items():  # warm the bytecode and page caches
                    _time(name, argv)
                for _ in range(args.runs):
                    for name, argv in clients.items():
                        samples[name].append(_time(name, argv))
            except RuntimeError as exc:
                print(f"bench_startup: a client failed: {exc}", file=sys.stderr)
                return 2
            if args.importtime:
                for name in PAIRS:
                    _importtime(clients[name][len(smtpprobe_argv()):], top=12)
    medians = {name: statistics.median(s) for name, s in samples.items()}
    print(f"\nwall time, median of {args.runs} interleaved runs (stdout to a pipe):")
    for name, times in samples.items():
        print(f"  {name:<26} {medians[name] * 1000:7.1f} ms  (min {min(times) * 1000:.1f}, "
              f"max {max(times) * 1000:.1f})")
    ratios, met = {}, True
    for name, (baseline, target) in PAIRS.items():
        ratios[name] = medians[name] / medians[baseline]
        verdict = "met" if ratios[name] <= target else "MISSED"
        met = met and ratios[name] <= target
        print(f"{name}/{baseline}: {ratios[name]:.2f}x (target <= {target:g}x) {verdict}")
    results = {
        "runs": args.runs,
        "median_s": {name: round(m, 4) for name, m in medians.items()},
        "ratios": {name: round(r, 3) for name, r in ratios.items()},
        "target": TARGET,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {os.path.relpath(RESULTS)}")
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
