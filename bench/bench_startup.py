"""Start-up against the floor of our own stack: what smtpprobe adds on top of Python + click.

Run with ``python3 bench/bench_startup.py`` (``--runs N``, default 21; ``--check`` exits 1
when a target is missed). It times, interleaved and in one run, the median wall time of:

- ``smtpprobe probe 127.0.0.1:PORT --tls none`` (the whole CLI: one probe of
  bench/local_server.py, its annotated text to a pipe) against
  ``python -c "import asyncio, ssl, click"``, the libraries the probe is built on;
- ``smtpprobe explain 252`` (text to a pipe) against ``python -c "import click"``.

Targets (issue 15 §2): both ratios <= 1.3x. The same interpreter runs everything, with a
bytecode cache in a temporary directory (as an installed tool has one). Results go to
bench/results/startup.json; ``--importtime`` also prints where each command's time goes
beyond its baseline: the modules it imports that the baseline does not (``python -X
importtime`` self times, ours and the standard library's), and how many dataclasses, enums
and regexes our modules build while importing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import smtpprobe_argv, use_bytecode_cache, write_results
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
        raise RuntimeError(
            f"{' '.join(argv)} exited {done.returncode}: "
            f"{done.stderr.decode(errors='replace').strip()}"
        )
    return elapsed


_MAIN = "import sys; from smtpprobe.cli import main; sys.exit(main(sys.argv[1:]))"
# Run in a child after the command: what smtpprobe built while importing (each frozen
# dataclass costs about 1 ms on CPython 3.11, an enum about 0.3 ms).
_CENSUS = """
import contextlib, dataclasses, enum, io, re, sys
from smtpprobe.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    main(sys.argv[1:])
own = {n: m for n, m in sys.modules.items() if n.startswith("smtpprobe")}
kinds = [v for n, m in own.items() for v in vars(m).values()
         if getattr(v, "__module__", None) == n and isinstance(v, type)]
print(len(own), sum(map(dataclasses.is_dataclass, kinds)),
      sum(issubclass(k, enum.Enum) for k in kinds),
      sum(isinstance(v, re.Pattern) for m in own.values() for v in vars(m).values()))
"""


def _self_times(argv: list[str], runs: int = 5) -> dict[str, float]:
    """Median self time (ms) of each module *argv* imports (``-X importtime``)."""
    times: dict[str, list[float]] = {}
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, check=False
        )
        for line in done.stderr.splitlines():
            if line.startswith("import time:") and "[us]" not in line:
                own, _cumulative, name = line.removeprefix("import time:").split("|")
                times.setdefault(name.strip(), []).append(int(own) / 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def _importtime(argv: list[str], baseline: list[str], top: int) -> None:
    """Where a command's start-up goes beyond its baseline: the modules it imports that the
    baseline does not (our own and the rest), and what our modules build while importing."""
    before = _self_times(baseline)
    extra = {
        name: ms for name, ms in _self_times(["-c", _MAIN, *argv]).items() if name not in before
    }
    own = {name: ms for name, ms in extra.items() if name.startswith("smtpprobe")}
    other = {name: ms for name, ms in extra.items() if name not in own}
    census = subprocess.run(
        [sys.executable, "-c", _CENSUS, *argv], capture_output=True, text=True, check=False
    ).stdout.split()
    print(f"\n{' '.join(argv[:2])}: imports beyond `{baseline[-1]}` (self times, -X importtime)")
    for label, group in (("smtpprobe", own), ("other", other)):
        slowest = ", ".join(
            f"{name} {ms:.1f}"
            for name, ms in sorted(group.items(), key=lambda item: -item[1])[:top]
        )
        print(f"  {label}: {sum(group.values()):.1f} ms in {len(group)} modules; {slowest}")
    if len(census) == 4:
        print(
            f"  built while importing: {census[0]} smtpprobe modules, {census[1]} "
            f"dataclasses, {census[2]} enums, {census[3]} module-level regexes"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--importtime", action="store_true", help="also print where each command's imports go"
    )
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
                for name, (baseline, _target) in PAIRS.items():
                    _importtime(
                        clients[name][len(smtpprobe_argv()) :], clients[baseline][1:], top=8
                    )
    medians = {name: statistics.median(s) for name, s in samples.items()}
    print(f"\nwall time, median of {args.runs} interleaved runs (stdout to a pipe):")
    for name, times in samples.items():
        print(
            f"  {name:<26} {medians[name] * 1000:7.1f} ms  (min {min(times) * 1000:.1f}, "
            f"max {max(times) * 1000:.1f})"
        )
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
    write_results(RESULTS, results)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
