#!/usr/bin/env bash
# Create .venv (once) and install smtpprobe into it; with "test", also the test tools and,
# when we are root on Debian, a real Postfix (and swaks, for the benchmarks; prometheus
# and promtool, for the exporter tests).
# pip's chatter goes to .venv/setup.log and is shown only when something fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
MODE=${1:-run}

quietly() {
    if ! "$@" >>.venv/setup.log 2>&1; then
        echo "setup: '$*' failed; its output:" >&2
        tail -n 40 .venv/setup.log >&2
        exit 1
    fi
}

if [ ! -x .venv/bin/python ]; then
    if ! "$PY" -m venv .venv 2>/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
            rm -rf .venv && "$PY" -m venv .venv
        else
            echo "setup: '$PY -m venv' failed; install python3-venv (Debian) and retry" >&2
            exit 1
        fi
    fi
fi

# Install again only when pyproject.toml changed since the last install in this mode.
stamp=.venv/.installed-$MODE
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing smtpprobe into .venv ($MODE)" >&2
    quietly .venv/bin/python -m pip install --upgrade pip
    if [ "$MODE" = test ]; then
        quietly .venv/bin/python -m pip install -e ".[test]"
    else
        quietly .venv/bin/python -m pip install -e .
    fi
    touch "$stamp"
fi

if [ "$MODE" = test ]; then
    # Postfix for tests/test_postfix.py, prometheus (promtool) for the exporter tests,
    # swaks and testssl.sh for the benchmarks: install what is missing.
    missing=()
    command -v postfix >/dev/null || [ -x /usr/sbin/postfix ] || missing+=(postfix)
    command -v swaks >/dev/null || missing+=(swaks)
    # ip netns for the resolver test (a DNS server of its own that never answers).
    command -v ip >/dev/null || missing+=(iproute2)
    # localedef and its locale sources: tests/test_output_safety.py builds an ISO-8859-1 locale.
    { command -v localedef >/dev/null && [ -d /usr/share/i18n/locales ]; } || missing+=(locales)
    # testssl.sh only for bench/bench_tls_scan.py (it runs without it and says so).
    command -v testssl >/dev/null || command -v testssl.sh >/dev/null || missing+=(testssl.sh)
    # promtool and prometheus for tests/test_exporter.py (Debian's prometheus, ~96 MB).
    command -v promtool >/dev/null || missing+=(prometheus)
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            echo "setup: installing ${missing[*]} from Debian for the integration tests" >&2
            (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                --no-install-recommends "${missing[@]}") >>.venv/setup.log 2>&1 \
                || echo "setup: could not install ${missing[*]}; Postfix tests will be skipped" >&2
        else
            echo "setup: not root; cannot install ${missing[*]}: Postfix tests will be skipped" >&2
        fi
    fi
fi
