"""Benchmark of a streaming fleet: 100,000 targets from stdin to JSON Lines in one process.

Run with ``python3 bench/bench_fleet_stream.py`` (``--targets 100000``, ``--compare
10000``, ``--servers 4``, ``--concurrency 500``, ``--check``). It starts ``--servers``
copies of bench/local_server.py (aiosmtpd as a well-run MTA), then runs

    smtpprobe probe --targets - --format json --concurrency 500 --tls none

once with ``--compare`` targets and once with ``--targets``, feeding the target lines
through a pipe while it runs (stdin is never a file that could be read ahead), and reads
the JSON Lines as they come. It reports probes per second, smtpprobe's peak RSS
(``os.wait4``'s ``ru_maxrss`` of that process alone) for both sizes, so that flat memory
shows as two equal peaks, and when the first and the middle record arrived, so that
streaming shows as records long before the end. Every line must be an OK report.
Targets (issue 15): peak RSS <= 150 MiB at 100,000. Results go to
bench/results/fleet_stream.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import smtpprobe_argv, use_bytecode_cache
from local_server import running_server

RESULTS = HERE / "results" / "fleet_stream.json"
PEAK_MIB_TARGET = 150.0
# Runs argv with stdin and stdout inherited, then reports its peak RSS (KiB) and exit code.
_MEASURE = (
    "import os, subprocess, sys\n"
    "proc = subprocess.Popen(sys.argv[1:])\n"
    "_pid, status, usage = os.wait4(proc.pid, 0)\n"
    "print('MEASURED', usage.ru_maxrss, os.waitstatus_to_exitcode(status), file=sys.stderr)\n"
)


def _feed(stdin: Any, ports: list[int], count: int) -> None:
    """Write *count* target lines into the pipe, a batch at a time, then close it."""
    try:
        batch = 1000
        for start in range(0, count, batch):
            stdin.write(
                "".join(
                    f"127.0.0.1:{ports[i % len(ports)]}\n"
                    for i in range(start, min(count, start + batch))
                )
            )
        stdin.close()
    except BrokenPipeError:
        pass  # smtpprobe went away; the reader reports why


def run_once(argv: list[str], ports: list[int], count: int) -> dict[str, Any]:
    """One streaming run of *count* targets: rate, peak RSS, when records arrived.

    :raises RuntimeError: a non-zero exit, a missing or non-OK record.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", _MEASURE, *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    started = time.perf_counter()
    feeder = threading.Thread(target=_feed, args=(proc.stdin, ports, count), daemon=True)
    feeder.start()
    lines, not_ok, first, middle = 0, 0, None, None
    for line in proc.stdout:  # records are read as they come, and none is kept
        lines += 1
        if first is None:
            first = time.perf_counter() - started
        if lines == count // 2:
            middle = time.perf_counter() - started
        if json.loads(line)["status"] != "ok":
            not_ok += 1
    took = time.perf_counter() - started
    stderr = proc.stderr.read()
    proc.wait()
    feeder.join(timeout=5)
    measured = [line.split() for line in stderr.splitlines() if line.startswith("MEASURED")]
    if not measured or measured[-1][2] != "0" or lines != count or not_ok:
        raise RuntimeError(f"{lines}/{count} lines, {not_ok} not OK, stderr: {stderr[-500:]}")
    return {
        "targets": count,
        "seconds": round(took, 2),
        "rate_per_s": round(count / took, 1),
        "peak_rss_mib": round(int(measured[-1][1]) / 1024.0, 1),
        "first_record_s": round(first or 0.0, 3),
        "half_records_s": round(middle or 0.0, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument(
        "--compare",
        type=int,
        default=10_000,
        help="a smaller run first, to show the peak does not grow (0: none)",
    )
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the peak RSS target is missed"
    )
    args = parser.parse_args()
    runs = []
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        use_bytecode_cache(Path(tmp, "pycache"))
        ports = [stack.enter_context(running_server()) for _ in range(args.servers)]
        argv = [
            *smtpprobe_argv(),
            "probe",
            "--targets",
            "-",
            "--format",
            "json",
            "--concurrency",
            str(args.concurrency),
            "--tls",
            "none",
            "--timeout",
            "60",
            "--command-timeout",
            "30",
        ]
        for count in [c for c in (args.compare, args.targets) if c]:
            run = run_once(argv, ports, count)
            runs.append(run)
            print(
                f"{count} targets: {run['rate_per_s']} probes/s in {run['seconds']} s, "
                f"peak {run['peak_rss_mib']} MiB, first record after "
                f"{run['first_record_s']} s, half of them after {run['half_records_s']} s"
            )
    peak = runs[-1]["peak_rss_mib"]
    results = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "servers": args.servers,
        "concurrency": args.concurrency,
        "runs": runs,
        "peak_rss_target_mib": PEAK_MIB_TARGET,
        "target_met": peak <= PEAK_MIB_TARGET,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(
        f"peak {peak} MiB at {runs[-1]['targets']} targets (target <= {PEAK_MIB_TARGET:g}) "
        f"-> {RESULTS}"
    )
    return 1 if args.check and peak > PEAK_MIB_TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
