"""Benchmark of the live probe: `smtpprobe probe` against swaks and a stdlib-smtplib script.

Run with ``python3 bench/bench_probe.py`` (``--runs N``, default 15; ``--profile`` adds an
import-time and cProfile breakdown of one probe run; ``--check`` exits 1 when a target is
missed). It starts bench/local_server.py (aiosmtpd as a well-run MTA, no TLS) in its own
process and times, interleaved, the median wall time of:

- ``smtpprobe probe 127.0.0.1:PORT --tls none`` with its full annotated text sent to a pipe;
- ``swaks --server 127.0.0.1:PORT --to postmaster@example.org --quit-after RCPT``;
- ``python3 bench/smtplib_baseline.py 127.0.0.1:PORT`` (the probe's commands, stdlib only).

Targets (issue 3): probe/swaks <= 1.0x, probe/smtplib <= 1.3x, probe peak RSS <= 40 MiB,
measured with getrusage(RUSAGE_CHILDREN).ru_maxrss in a fresh Python process that runs
only the probe. ``python3 -c pass`` is timed too, as the start-up floor under both Python
clients. The clients get a bytecode cache in a temporary directory even where
PYTHONDONTWRITEBYTECODE is set, as an installed tool would. Results go to
bench/results/probe.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import smtpprobe_argv, use_bytecode_cache, write_results
from local_server import running_server  # noqa: E402

RESULTS = HERE / "results" / "probe.json"
SWAKS_TARGET = 1.0
SMTPLIB_TARGET = 1.3
PEAK_MIB_TARGET = 40.0
# The probe exits 0/1/2 by what it finds; 3 means it could not run at all.
PROBE_OK_CODES = (0, 1, 2)
_RSS_CHILD = (
    "import resource, subprocess, sys\n"
    "subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def _probe_missing() -> str:
    """Why the probe cannot be benchmarked yet, or "" when it is there."""
    missing = [
        m
        for m in ("smtpprobe.probe", "smtpprobe.commands.probe")
        if importlib.util.find_spec(m) is None
    ]
    if missing:
        return f"the probe is not written yet (no module {', '.join(missing)})"
    return ""


def _run(argv: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    """Run *argv* with stdout and stderr to pipes; return its wall time and stdout.

    :raises RuntimeError: when it exits with a code outside *ok*.
    """
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.strip()}")
    return elapsed, done.stdout


def _verbs_of(argv: list[str], ok: tuple[int, ...], log: Path) -> list[str]:
    """Run *argv* once and return the command verbs the server saw in its session."""
    before = log.read_text().count("\n") if log.exists() else 0
    _run(argv, ok)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:  # the server writes when it sees the connection close
        lines = log.read_text().splitlines() if log.exists() else []
        if len(lines) > before:
            return lines[before].split()
        time.sleep(0.01)
    return []


def _peak_kib(argv: list[str]) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, *argv], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip())


def _profile(probe_argv: list[str], top: int) -> None:
    """Print where one probe run spends its time: imports (-X importtime), then cProfile."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "smtpprobe", *probe_argv],
        capture_output=True,
        text=True,
        check=False,
    )
    rows = []  # (cumulative µs, depth, module)
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        _self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        rows.append((int(cumulative_us), depth, name.strip()))
    total = sum(cumulative for cumulative, depth, _name in rows if depth == 0)
    print(f"\n-X importtime: {total / 1000:.1f} ms importing; slowest top-level imports:")
    for cumulative, _depth, name in sorted((r for r in rows if r[1] == 0), reverse=True)[:top]:
        print(f"  {cumulative / 1000:7.1f} ms  {name}")
    with tempfile.TemporaryDirectory(prefix="smtpprobe-bench-") as tmp:
        out = Path(tmp) / "probe.prof"
        subprocess.run(
            [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "smtpprobe", *probe_argv],
            capture_output=True,
            check=False,
        )
        print(f"\ncProfile of one probe run, top {top} by cumulative time:")
        pstats.Stats(str(out), stream=sys.stdout).sort_stats("cumulative").print_stats(top)


def _ratio_line(name: str, ratio: float | None, target: float) -> str:
    if ratio is None:
        return f"probe/{name}: not measured"
    verdict = "met" if ratio <= target else "MISSED"
    return f"probe/{name}: {ratio:.2f}x (target <= {target:g}x) {verdict}"


Clients = dict[str, tuple[list[str], tuple[int, ...]]]


def _probe_args(target: str) -> list[str]:
    return ["probe", target, "--tls", "none"]


def _clients(target: str, swaks: str | None) -> Clients:
    """What to time, by name: argv and the exit codes that mean it ran."""
    clients: Clients = {
        "probe": (smtpprobe_argv() + _probe_args(target), PROBE_OK_CODES),
        "smtplib": ([sys.executable, str(HERE / "smtplib_baseline.py"), target], (0,)),
    }
    if swaks is not None:
        clients["swaks"] = (
            [swaks, "--server", target, "--to", "postmaster@example.org", "--quit-after", "RCPT"],
            (0,),
        )
    # Not a client: the start-up of this Python, the floor under both Python clients.
    clients["python"] = ([sys.executable, "-c", "pass"], (0,))
    return clients


@dataclass(frozen=True)
class Measured:
    """What each client sent, its wall-time samples, and its peak RSS in KiB."""

    verbs: dict[str, list[str]]
    samples: dict[str, list[float]]
    peak_kib: dict[str, int]


def _measure(clients: Clients, runs: int, log: Path) -> Measured:
    """Verbs sent, interleaved wall-time samples and peak RSS of each client.

    :raises RuntimeError: when a client fails.
    """
    # The first run of each warms the caches and shows what each one sends.
    verbs = {
        name: _verbs_of(argv, ok, log) if name != "python" else []
        for name, (argv, ok) in clients.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(runs):
        for name, (argv, ok) in clients.items():
            samples[name].append(_run(argv, ok)[0])
    peak_kib = {name: _peak_kib(argv) for name, (argv, _ok) in clients.items()}
    return Measured(verbs, samples, peak_kib)


def _report(runs: int, measured: Measured) -> tuple[dict[str, object], bool]:
    """Print the table and the ratios; return the results document and whether all met."""
    verbs, samples, peak_kib = measured.verbs, measured.samples, measured.peak_kib
    medians = {name: statistics.median(s) for name, s in samples.items()}
    ratio_swaks = medians["probe"] / medians["swaks"] if "swaks" in medians else None
    ratio_smtplib = medians["probe"] / medians["smtplib"]
    peak_mib = {name: kib / 1024 for name, kib in peak_kib.items()}
    print(f"\nwall time over {runs} interleaved runs (stdout to a pipe):")
    print(f"  {'client':<9} {'median':>9} {'min':>9} {'max':>9}  commands sent  peak RSS")
    for name, times in samples.items():
        sent = str(len(verbs[name])) if verbs[name] else "-"
        print(
            f"  {name:<9} {medians[name] * 1000:7.1f}ms {min(times) * 1000:7.1f}ms "
            f"{max(times) * 1000:7.1f}ms  {sent:>13}  {peak_mib[name]:5.1f} MiB"
        )
    print("  (python = `python3 -c pass`, the start-up floor of both Python clients)")
    print(_ratio_line("swaks", ratio_swaks, SWAKS_TARGET))
    print(_ratio_line("smtplib", ratio_smtplib, SMTPLIB_TARGET))
    memory_met = peak_mib["probe"] <= PEAK_MIB_TARGET
    print(
        f"probe peak RSS: {peak_mib['probe']:.1f} MiB (target <= {PEAK_MIB_TARGET:g} MiB) "
        f"{'met' if memory_met else 'MISSED'}; getrusage(RUSAGE_CHILDREN).ru_maxrss in a "
        "fresh child that runs only the probe"
    )
    for name, sent_verbs in verbs.items():
        if name != "python":
            print(f"  {name} sent: {' '.join(sent_verbs) or '(not seen)'}")
    results: dict[str, object] = {
        "runs": runs,
        "python": platform.python_version(),
        "median_s": {name: round(m, 4) for name, m in medians.items()},
        "min_s": {name: round(min(s), 4) for name, s in samples.items()},
        "commands": {name: v for name, v in verbs.items() if name != "python"},
        "ratio_probe_swaks": None if ratio_swaks is None else round(ratio_swaks, 2),
        "ratio_probe_swaks_target": SWAKS_TARGET,
        "ratio_probe_smtplib": round(ratio_smtplib, 2),
        "ratio_probe_smtplib_target": SMTPLIB_TARGET,
        "peak_rss_mib": {name: round(m, 1) for name, m in peak_mib.items()},
        "peak_rss_mib_target": PEAK_MIB_TARGET,
        "peak_rss_method": "resource.getrusage(RUSAGE_CHILDREN).ru_maxrss in a fresh child",
    }
    met = (
        memory_met
        and ratio_smtplib <= SMTPLIB_TARGET
        and (ratio_swaks is None or ratio_swaks <= SWAKS_TARGET)
    )
    return results, met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--profile", action="store_true", help="also profile one probe run")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    missing = _probe_missing()
    if missing:
        print(f"bench_probe: cannot run: {missing}; nothing to measure", file=sys.stderr)
        return 2
    swaks = shutil.which("swaks")
    if swaks is None:
        print(
            "swaks not found (Debian: apt-get install swaks, or `bash scripts/setup.sh test` "
            "as root): the probe/swaks ratio is skipped"
        )
    with tempfile.TemporaryDirectory(prefix="smtpprobe-bench-") as tmp:
        use_bytecode_cache(Path(tmp) / "pycache")
        log = Path(tmp) / "commands.log"
        with running_server(command_log=log) as port:
            target = f"127.0.0.1:{port}"
            clients = _clients(target, swaks)
            try:
                measured = _measure(clients, args.runs, log)
            except RuntimeError as exc:
                print(f"bench_probe: a client failed: {exc}", file=sys.stderr)
                return 2
            if args.profile:
                _profile(_probe_args(target), top=15)
    results, met = _report(args.runs, measured)
    write_results(RESULTS, results)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
