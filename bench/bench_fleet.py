"""Benchmark of many targets: one `smtpprobe probe --targets FILE` against swaks per target.

Run with ``python3 bench/bench_fleet.py`` (``--targets 1000``, ``--swaks-sample 100``,
``--servers 1``, ``--concurrency 20``, ``--runs 3``, ``--formats text,nagios,json``;
``--check`` exits 1 when a target is missed). It starts ``--servers`` copies of
bench/local_server.py (aiosmtpd as a well-run MTA, no TLS), each in its own process on its
own port, writes a list of ``--targets`` lines spread over them, and times, interleaved in
the same run:

- ``smtpprobe probe --targets LIST --format F --concurrency N`` for each format F (every
  probe step; the output is checked: the summary says OK, the Nagios line counts every
  target OK, every JSON line is an OK report);
- ``xargs -P 2 swaks --server H:P --to postmaster@example.org --quit-after RCPT`` over the
  first ``--swaks-sample`` lines of the same list (swaks is one process per target).

Rates are probes per second; a ratio is smtpprobe's median rate over swaks'. Targets
(issue 4): ratio >= 10, smtpprobe's peak RSS <= 100 MiB (``os.wait4``'s ``ru_maxrss`` of
the smtpprobe process itself). Results go to bench/results/fleet.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import smtpprobe_argv, use_bytecode_cache
from local_server import running_server  # noqa: E402

RESULTS = HERE / "results" / "fleet.json"
RATIO_TARGET = 10.0
PEAK_MIB_TARGET = 100.0
SWAKS = "/usr/bin/swaks"
# Runs argv with stdout inherited, then reports wall time, peak RSS (KiB) and exit code.
_MEASURE = (
    "import os, subprocess, sys, time\n"
    "started = time.perf_counter()\n"
    "proc = subprocess.Popen(sys.argv[1:], stderr=subprocess.DEVNULL)\n"
    "_pid, status, usage = os.wait4(proc.pid, 0)\n"
    "took = time.perf_counter() - started\n"
    "code = os.waitstatus_to_exitcode(status)\n"
    "print('MEASURED', took, usage.ru_maxrss, code, file=sys.stderr)\n"
)


def _check(output_format: str, text: str, code: int, expected: int) -> str:
    """Why the output of one run is wrong, or "" when every target was probed and OK."""
    if code != 0:
        return f"exit code {code}"
    if output_format == "json":
        lines = text.splitlines()
        statuses = {json.loads(line)["status"] for line in lines}
        if len(lines) != expected or statuses != {"ok"}:
            return f"{len(lines)} JSON lines, statuses {sorted(statuses)}"
    elif output_format == "nagios":
        if not text.startswith(f"SMTP OK - {expected} targets: {expected} OK"):
            return text.splitlines()[0][:200] if text else "no output"
    elif not (text.startswith(f"{expected} targets probed") and "Status: OK" in text):
        return text[:200]
    return ""


def _run_fleet(
    argv: list[str], output_format: str, out: Path, expected: int
) -> tuple[float, float]:
    """Run smtpprobe once; (seconds, peak RSS in MiB of that process). Checks the output.

    The run goes through a small Python parent (`_MEASURE`), not through this process:
    Linux carries the parent's peak RSS into a child's ``ru_maxrss`` at exec, and this
    process grows while it checks a 13 MB JSON output.

    :raises RuntimeError: the exit code is not 0 or the output does not show every target OK.
    """
    with out.open("w", encoding="utf-8") as sink:
        result = subprocess.run(
            [sys.executable, "-c", _MEASURE, *argv, "--format", output_format],
            stdout=sink,
            stderr=subprocess.PIPE,
            check=False,
        )
    stderr = result.stderr.decode(errors="replace")
    measured = stderr.strip().splitlines()[-1].split() if stderr.strip() else []
    if len(measured) != 4 or measured[0] != "MEASURED":
        raise RuntimeError(f"smtpprobe --format {output_format} did not run: {stderr[-300:]}")
    elapsed, peak_kb, code = float(measured[1]), int(measured[2]), int(measured[3])
    wrong = _check(output_format, out.read_text(encoding="utf-8"), code, expected)
    if wrong:
        raise RuntimeError(f"smtpprobe --format {output_format}: {wrong} {stderr[-300:]}")
    return elapsed, peak_kb / 1024.0  # Linux reports kilobytes


def _run_swaks(sample: Path) -> float:
    """Run swaks once per line of *sample*, two at a time; the wall time in seconds.

    :raises RuntimeError: any swaks run failed (xargs exits 123 then).
    """
    argv = [
        "xargs",
        "-P",
        "2",
        "-I",
        "{}",
        SWAKS,
        "--server",
        "{}",
        "--to",
        "postmaster@example.org",
        "--quit-after",
        "RCPT",
    ]
    with sample.open("rb") as lines:
        started = time.perf_counter()
        result = subprocess.run(
            argv, stdin=lines, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(
            f"swaks failed (xargs exit {result.returncode}): "
            f"{result.stderr.decode(errors='replace')[-500:]}"
        )
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--swaks-sample", type=int, default=100)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default="text,nagios,json")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    formats = args.formats.split(",")
    if not Path(SWAKS).exists():
        print(f"bench_fleet: {SWAKS} is missing (apt-get install swaks)", file=sys.stderr)
        return 2
    seconds: dict[str, list[float]] = {f: [] for f in formats}
    peaks: dict[str, list[float]] = {f: [] for f in formats}
    swaks_s: list[float] = []
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        use_bytecode_cache(Path(tmp, "pycache"))
        ports = [stack.enter_context(running_server()) for _ in range(args.servers)]
        listing, sample, out = Path(tmp, "targets"), Path(tmp, "sample"), Path(tmp, "out")
        targets = [f"127.0.0.1:{ports[i % len(ports)]}" for i in range(args.targets)]
        listing.write_text("\n".join(targets) + "\n", encoding="ascii")
        sample.write_text("\n".join(targets[: args.swaks_sample]) + "\n", encoding="ascii")
        argv = [
            *smtpprobe_argv(),
            "probe",
            "--targets",
            str(listing),
            "--concurrency",
            str(args.concurrency),
            "--timeout",
            "30",
        ]
        for run in range(args.runs):
            line = []
            for output_format in formats:
                took, peak = _run_fleet(argv, output_format, out, args.targets)
                seconds[output_format].append(took)
                peaks[output_format].append(peak)
                line.append(f"{output_format} {args.targets / took:6.1f}/s ({peak:.0f} MiB)")
            swaks_s.append(_run_swaks(sample))
            print(
                f"run {run + 1}: smtpprobe "
                + ", ".join(line)
                + f"   swaks {args.swaks_sample / swaks_s[-1]:5.1f}/s"
            )
    swaks_rate = args.swaks_sample / statistics.median(swaks_s)
    rates = {f: args.targets / statistics.median(seconds[f]) for f in formats}
    ratios = {f: rate / swaks_rate for f, rate in rates.items()}
    peak = {f: max(peaks[f]) for f in formats}
    met = {f: ratios[f] >= RATIO_TARGET and peak[f] <= PEAK_MIB_TARGET for f in formats}
    results = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "runs": args.runs,
        "servers": args.servers,
        "concurrency": args.concurrency,
        "targets": args.targets,
        "swaks_sample": args.swaks_sample,
        "median_s": {
            **{f: round(statistics.median(seconds[f]), 3) for f in formats},
            "swaks": round(statistics.median(swaks_s), 3),
        },
        "rate_per_s": {**{f: round(r, 1) for f, r in rates.items()}, "swaks": round(swaks_rate, 1)},
        "ratio": {f: round(r, 2) for f, r in ratios.items()},
        "peak_rss_mib": {f: round(p, 1) for f, p in peak.items()},
        "targets_met": met,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(
        f"median: swaks {swaks_rate:.1f} probes/s; smtpprobe "
        + ", ".join(
            f"{f} {rates[f]:.1f}/s = {ratios[f]:.1f}x, peak {peak[f]:.1f} MiB" for f in formats
        )
        + f" (targets: >= {RATIO_TARGET:g}x, <= {PEAK_MIB_TARGET:g} MiB) -> {RESULTS}"
    )
    return 1 if args.check and not all(met.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
