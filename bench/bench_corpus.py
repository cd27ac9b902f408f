"""How many real replies the knowledge base reads specifically: the corpus in fixtures/replies.

Run with ``.venv/bin/python bench/bench_corpus.py`` (smtpprobe must be importable). Each entry
is read twice, as ``explain`` reads a pasted reply and as ``annotate`` reads it in a Postfix
log line; an entry counts as read specifically when both give its expected reading (the
vendor pattern, or the enhanced code's registry entry) with advice holding the expected
words. Replies whose text names no cause (``550 Denied by policy``) are listed apart as vague.
Prints the shares overall and per family; ``--list`` prints every entry that misses.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from smtpprobe.kb import load
from tests.reply_corpus import is_specific, load_corpus, read_logged, read_pasted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", default="en", choices=("en", "id"))
    parser.add_argument("--list", action="store_true", help="print the entries that miss")
    args = parser.parse_args()
    kb = load(args.lang)
    entries = load_corpus()
    real = [entry for entry in entries if not entry.vague]
    vague = [entry for entry in entries if entry.vague]
    hits, any_pattern, per_family, misses = 0, 0, Counter(), []
    totals = Counter(entry.file for entry in real)
    for entry in real:
        pasted, logged = read_pasted(entry, kb), read_logged(entry, kb)
        if pasted.basis.startswith("pattern:"):
            any_pattern += 1
        # Advice words are English: in another language only the reading itself is checked.
        ok = (
            (is_specific(entry, pasted) and is_specific(entry, logged))
            if args.lang == "en"
            else logged is not None
            and pasted.basis == logged.basis
            and pasted.basis in (f"pattern:{entry.expect}", "enhanced")
        )
        if ok:
            hits += 1
            per_family[entry.file] += 1
        else:
            misses.append((entry, pasted.basis))
    print(
        f"corpus: {len(real)} distinct real replies in {len(totals)} files "
        f"(+ {len(vague)} vague ones whose text names no cause, not counted)"
    )
    print(
        f"read specifically by explain and annotate, with the expected advice: "
        f"{hits}/{len(real)} = {100 * hits / len(real):.1f} %"
    )
    print(
        f"read through a vendor or MTA pattern at all: {any_pattern}/{len(real)} = "
        f"{100 * any_pattern / len(real):.1f} %"
    )
    for name in sorted(totals):
        print(f"  {name:<18} {per_family[name]:>4}/{totals[name]:<4}")
    if args.list:
        for entry, basis in misses:
            print(f"MISS {entry.file} expect={entry.expect} got={basis}: {entry.text[:80]!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
