"""``smtpprobe probe --tls-scan`` against testssl.sh on the same server: wall time, median.

The server is the tests' private Postfix (root and Postfix needed) with STARTTLS and TLS
1.0 to 1.3 allowed, as in tests/test_postfix_tls.py. testssl.sh runs twice over: with
``-p -s -S`` (protocols, cipher classes, server defaults and certificate: the same
ground as the scan) and, once, its default full run. Without testssl.sh (Debian package
``testssl.sh``; scripts/setup.sh test installs it) only smtpprobe is timed, and the
output says so. Results → bench/results/tls_scan.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import smtpprobe_argv
from tests.postfix import PostfixUnavailable, running_postfix
from tests.test_postfix_tls import OLD_ALLOWED


def _times(argv: list[str], runs: int, ok: tuple[int, ...]) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        samples.append(time.perf_counter() - start)
        if done.returncode not in ok:
            raise SystemExit(f"{argv[0]} exited {done.returncode}: {' '.join(argv)}")
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of the scan (median)")
    parser.add_argument("--testssl-runs", type=int, default=3)
    parser.add_argument("--no-full", action="store_true", help="skip testssl's full run")
    args = parser.parse_args()
    testssl = shutil.which("testssl") or shutil.which("testssl.sh")
    result: dict[str, object] = {}
    try:
        with running_postfix(OLD_ALLOWED) as server:
            target = f"{server.host}:{server.port}"
            probe = [
                *smtpprobe_argv(),
                "probe",
                target,
                "--insecure",
                "--format",
                "json",
                "--timeout",
                "60",
            ]
            # Exit 1: the server offers TLS 1.0/1.1 and anonymous suites, as configured.
            scan = _times([*probe, "--tls-scan"], args.runs, (1,))
            plain = _times(probe, args.runs, (0, 1))
            result["smtpprobe_scan_s"] = statistics.median(scan)
            result["smtpprobe_probe_without_scan_s"] = statistics.median(plain)
            if testssl is None:
                result["testssl"] = "not installed (apt-get install testssl.sh)"
            else:
                base = [
                    testssl,
                    "--quiet",
                    "--color",
                    "0",
                    "--warnings",
                    "off",
                    "--starttls",
                    "smtp",
                ]
                same = _times(
                    [*base, "-p", "-s", "-S", target], args.testssl_runs, tuple(range(256))
                )
                result["testssl_p_s_S_s"] = statistics.median(same)
                result["ratio_same_ground"] = result["testssl_p_s_S_s"] / result["smtpprobe_scan_s"]  # type: ignore[operator]
                if not args.no_full:
                    full = _times([*base, target], 1, tuple(range(256)))
                    result["testssl_full_s"] = full[0]
                    result["ratio_full"] = full[0] / result["smtpprobe_scan_s"]  # type: ignore[operator]
    except PostfixUnavailable as exc:
        print(f"bench_tls_scan: no Postfix to scan: {exc}", file=sys.stderr)
        return 0
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "tls_scan.json").write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result.items():
        print(f"{key:32} {value:.3f}" if isinstance(value, float) else f"{key:32} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
