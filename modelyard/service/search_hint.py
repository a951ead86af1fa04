"""Why a run search found nothing: a metric or param its filter names that no run of those experiments has.

Used by the CLI (over a :class:`~modelyard.client.Client`'s ``search_runs``) and the web UI (over the
service's ``runs.search``): both take the same arguments and answer a page with ``items``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any, Protocol

from ..entities import ViewType
from ..entities.query import METRIC, PARAM
from .search import parse_run_filter

SAMPLE_RUNS = 1000  # runs read for the names to suggest
_PRESENT = {PARAM: ["IS NOT NULL"], METRIC: [">= 0", "< 0"]}  # a metric has no IS NOT NULL in MLflow's grammar
_PREFIX = {PARAM: "params", METRIC: "metrics"}


class SearchRuns(Protocol):
    def __call__(self, experiment_ids: list[str], filter_string: str = ..., run_view_type: str = ...,
                 max_results: int = ...) -> Any: ...


def unknown_keys(search: SearchRuns, experiment_ids: Sequence[str], filter_string: str) -> list[str]:
    """One sentence per metric or param named in ``filter_string`` that no run of ``experiment_ids`` has,
    with the closest names that do exist (an empty list when every name is known)."""
    named = sorted({(cmp.kind, cmp.key) for cmp in parse_run_filter(filter_string) if cmp.kind in _PREFIX})
    if not named or not experiment_ids:
        return []
    ids = list(experiment_ids)
    sample = search(ids, run_view_type=ViewType.ALL, max_results=SAMPLE_RUNS).items
    known: dict[str, set[str]] = {METRIC: set(), PARAM: set()}
    for run in sample:
        known[METRIC].update(run.data.metrics)
        known[PARAM].update(run.data.params)
    sentences = []
    for kind, key in named:
        if key in known[kind] or _present(search, ids, kind, key):
            continue
        word = "metric" if kind == METRIC else "param"
        close = difflib.get_close_matches(key, sorted(known[kind]), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(f'{_PREFIX[kind]}.{k}' for k in close)}?" if close else ""
        sentences.append(f"No run in these experiments has a {word} named {key!r}.{hint}")
    return sentences


def _present(search: SearchRuns, ids: list[str], kind: str, key: str) -> bool:
    quoted = key.replace("`", "")
    return any(
        search(ids, filter_string=f"{_PREFIX[kind]}.`{quoted}` {test}", run_view_type=ViewType.ALL,
                      max_results=1).items
        for test in _PRESENT[kind]
    )
