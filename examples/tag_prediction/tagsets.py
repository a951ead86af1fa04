"""Multi-label question sets as a frame of ``title``, ``body`` and ``tags`` (a list per row).

- :func:`load_debtags`: the committed slice of Debian's debtags (``build_debtags.py``);
- :func:`load_stackoverflow`: questions from a Stack Exchange data dump's ``Posts.xml``
  (``https://archive.org/details/stackexchange``), streamed, so a full dump fits in memory
  only as far as ``limit`` asks.
"""

from __future__ import annotations

import gzip
import html
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
DEBTAGS = HERE / "debtags.jsonl.gz"
QUESTION = "1"  # PostTypeId of a question (2 is an answer)
_HTML_TAG = re.compile(r"<[^>]+>")


def load_debtags(path: str | Path = DEBTAGS) -> pd.DataFrame:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return pd.DataFrame([json.loads(line) for line in fh if line.strip()], columns=["title", "body", "tags"])


def parse_so_tags(text: str) -> list[str]:
    """``<python><pandas>`` (older dumps) or ``|python|pandas|`` (newer ones) → ``["python", "pandas"]``."""
    if "<" in text:
        return re.findall(r"<([^<>]+)>", text)
    return [t for t in text.split("|") if t]


def strip_html(body: str) -> str:
    return " ".join(html.unescape(_HTML_TAG.sub(" ", body)).split())


def load_stackoverflow(path: str | Path, limit: int | None = None) -> pd.DataFrame:
    """The questions of ``Posts.xml`` (or of a dump folder holding it): title, body as text, tags."""
    path = Path(path)
    if path.is_dir():
        path = path / "Posts.xml"
    if not path.is_file():
        raise FileNotFoundError(f"No Posts.xml at {path}: pass the dump's Posts.xml or the folder holding it.")
    rows = []
    for _, elem in ET.iterparse(path, events=("end",)):
        if elem.tag == "row" and elem.get("PostTypeId") == QUESTION and elem.get("Tags"):
            rows.append({"title": elem.get("Title", ""), "body": strip_html(elem.get("Body", "")),
                         "tags": parse_so_tags(elem.get("Tags", ""))})
            if limit is not None and len(rows) >= limit:
                break
        elem.clear()
    return pd.DataFrame(rows, columns=["title", "body", "tags"])


def keep_top_tags(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """Only the ``n`` most frequent tags, and only the rows left with any."""
    counts = Counter(t for tags in frame["tags"] for t in tags)
    keep = {t for t, _ in counts.most_common(n)}
    out = frame.assign(tags=[[t for t in tags if t in keep] for tags in frame["tags"]])
    return out[out["tags"].map(len) > 0].reset_index(drop=True)
