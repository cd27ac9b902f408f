"""Helpers shared by the benchmarks: which smtpprobe to run, and timing by median."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def smtpprobe_argv() -> list[str]:
    """The console script beside this interpreter (a pyenv shim would add its own start-up)."""
    beside = Path(sys.executable).with_name("smtpprobe")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("smtpprobe")
    return [found] if found else [sys.executable, "-m", "smtpprobe"]


def median_seconds(argv: list[str], runs: int, stdout: int | None = subprocess.DEVNULL) -> float:
    """Median wall time of *runs* runs of *argv* (each must exit 0)."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=stdout, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def use_bytecode_cache(pycache: Path) -> None:
    """Give the clients a bytecode cache, as an installed tool has one.

    Without it (PYTHONDONTWRITEBYTECODE=1, as in some containers) every run would compile
    smtpprobe's sources again, a cost no real install pays.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(pycache)


def write_results(path: Path, results: object) -> None:
    """Write *results* as JSON to *path* (under bench/results/) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {os.path.relpath(path)}")
