"""Build the committed debtags slice from this machine's package lists (run once; the result is committed).

Debian tags most of its packages with faceted tags (``implemented-in::python``,
``role::program``, ``use::gameplaying``): a ready multi-label text set. This reads
``apt-cache dumpavail`` (run ``apt-get update`` first if it prints nothing), keeps the
packages with tags, keeps the most frequent tags, and writes a small gzip'd JSON-lines
file: ``{"title": package name, "body": description, "tags": [...]}`` per line.

    python examples/tag_prediction/build_debtags.py            # writes debtags.jsonl.gz here
    python examples/tag_prediction/build_debtags.py --input dumpavail.txt --packages 2000
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIPPED_FACETS = ("special::",)  # bookkeeping (special::not-yet-tagged), not what a package is about


def stanzas(text: str) -> Iterator[dict[str, str]]:
    """The fields of each blank-line separated stanza; continuation lines join their field."""
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key is not None:
                rest = line.strip()
                fields[key] += "\n" + ("" if rest == "." else rest)
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if fields:
            yield fields


def parse_tags(field: str) -> list[str]:
    tags = (t.strip() for t in field.replace("\n", " ").split(","))
    return sorted({t for t in tags if t and not t.startswith(SKIPPED_FACETS)})


def tagged_packages(text: str) -> list[dict[str, object]]:
    """One record per package with a description and at least one tag (first stanza of a name wins)."""
    seen: dict[str, dict[str, object]] = {}
    for fields in stanzas(text):
        name, description, tags = fields.get("Package"), fields.get("Description"), parse_tags(fields.get("Tag", ""))
        if name and description and tags and name not in seen:
            seen[name] = {"title": name, "body": " ".join(description.split()), "tags": tags}
    return list(seen.values())


def slice_records(records: list[dict[str, object]], n_packages: int, n_tags: int) -> list[dict[str, object]]:
    """The ``n_tags`` most frequent tags, and ``n_packages`` packages (a stable pseudo-random pick) with any."""
    counts = Counter(t for r in records for t in r["tags"])  # type: ignore[attr-defined]
    keep = {t for t, _ in counts.most_common(n_tags)}
    kept = []
    for r in records:
        tags = [t for t in r["tags"] if t in keep]  # type: ignore[attr-defined]
        if tags:
            kept.append({**r, "tags": tags})
    kept.sort(key=lambda r: hashlib.sha256(str(r["title"]).encode()).hexdigest())
    return kept[:n_packages]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", help="a saved `apt-cache dumpavail` output (default: run it)")
    parser.add_argument("--output", default=str(HERE / "debtags.jsonl.gz"))
    parser.add_argument("--packages", type=int, default=3000)
    parser.add_argument("--tags", type=int, default=30)
    args = parser.parse_args()
    if args.input:
        text = Path(args.input).read_text(encoding="utf-8", errors="replace")
    else:
        text = subprocess.run(["apt-cache", "dumpavail"], capture_output=True, text=True, check=True).stdout
    records = tagged_packages(text)
    if not records:
        raise SystemExit("No tagged packages found: run `apt-get update` so apt-cache knows the archive.")
    rows = slice_records(records, args.packages, args.tags)
    with gzip.open(args.output, "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    n_tags = len({t for r in rows for t in r["tags"]})  # type: ignore[attr-defined]
    print(f"{len(records)} tagged packages; wrote {len(rows)} with {n_tags} tags to {args.output}")


if __name__ == "__main__":
    main()
