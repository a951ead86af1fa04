"""Why a run search found nothing: a metric or param its filter names that no run of those experiments has."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from ..client.client import Client
from ..entities import ViewType
from ..entities.query import METRIC, PARAM
from ..service.search import parse_run_filter

SAMPLE_RUNS = 1000  # runs read for the names to suggest
_PRESENT = {PARAM: ["IS NOT NULL"], METRIC: [">= 0", "< 0"]}  # a metric has no IS NOT NULL in MLflow's grammar
_PREFIX = {PARAM: "params", METRIC: "metrics"}


def unknown_keys(c: Client, experiment_ids: Sequence[str], filter_string: str) -> list[str]:
    """One sentence per metric or param named in ``filter_string`` that no run of ``experiment_ids`` has,
    with the closest names that do exist (an empty list when every name is known)."""
    named = sorted({(cmp.kind, cmp.key) for cmp in parse_run_filter(filter_string) if cmp.kind in _PREFIX})
    if not named or not experiment_ids:
        return []
    ids = list(experiment_ids)
    sample = c.search_runs(ids, run_view_type=ViewType.ALL, max_results=SAMPLE_RUNS).items
    known: dict[str, set[str]] = {METRIC: set(), PARAM: set()}
    for run in sample:
        known[METRIC].update(run.data.metrics)
        known[PARAM].update(run.data.params)
    sentences = []
    for kind, key in named:
        if key in known[kind] or _present(c, ids, kind, key):
            continue
        word = "metric" if kind == METRIC else "param"
        close = difflib.get_close_matches(key, sorted(known[kind]), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(f'{_PREFIX[kind]}.{k}' for k in close)}?" if close else ""
        sentences.append(f"No run in these experiments has a {word} named {key!r}.{hint}")
    return sentences


def _present(c: Client, ids: list[str], kind: str, key: str) -> bool:
    quoted = key.replace("`", "")
    return any(
        c.search_runs(ids, filter_string=f"{_PREFIX[kind]}.`{quoted}` {test}", run_view_type=ViewType.ALL,
                      max_results=1).items
        for test in _PRESENT[kind]
    )
