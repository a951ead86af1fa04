"""MLflow's limits and naming rules, checked once for every entry point."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Sequence
from typing import Any

from ..entities import Metric, Param, RunTag
from ..errors import InvalidParameterValue

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_BATCH_LOG_REQUEST_SIZE = 1_000_000
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_ENTITY_KEY_LENGTH = 250
MAX_USER_ID_LENGTH = 256
MAX_RESULTS_SEARCH_RUNS = 50_000
MAX_RESULTS_SEARCH_EXPERIMENTS = 50_000
MAX_METRIC_HISTORY_PAGE = 25_000
MAX_DATASET_NAME_SIZE = 500
MAX_DATASET_DIGEST_SIZE = 36
MAX_DATASET_SOURCE_SIZE = 65535
MAX_DATASET_SCHEMA_SIZE = 1048575
MAX_DATASET_PROFILE_SIZE = 16777215
MAX_INPUT_TAG_KEY_SIZE = 255
MAX_INPUT_TAG_VALUE_SIZE = 500
# Our bulk-ingest extension: one request may carry this many points.
MAX_BULK_METRICS = 100_000
# Inference-log rows (served requests or feedback) one call may carry.
MAX_ROWS_PER_CALL = 10_000

_NAME_RE = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_INT64 = (-(2**63), 2**63 - 1)


def invalid_value(path: str, value: Any, message: str | None = None) -> str:
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    if message:
        return f"Invalid value {shown} for parameter '{path}' supplied: {message}"
    return f"Invalid value {shown} for parameter '{path}' supplied."


def missing_value(path: str) -> str:
    return f"Missing value for required parameter '{path}'."


# Names that passed check_name: most calls log the same few keys again and again.
_GOOD_NAMES: set[str] = set()
_GOOD_NAMES_MAX = 50_000


def check_name(name: Any, path: str, kind: str) -> None:
    """Keys of metrics, params and tags: MLflow's characters, no path tricks, ≤ 250 chars."""
    if type(name) is str and name in _GOOD_NAMES:
        return
    if name is None or name == "":
        raise InvalidParameterValue(invalid_value(path, name or "", f"{kind} name cannot be empty. A key name must be provided."))
    if not isinstance(name, str):
        raise InvalidParameterValue(invalid_value(path, name, f"{kind} name must be a string."))
    if not _NAME_RE.match(name):
        raise InvalidParameterValue(
            invalid_value(
                path,
                name,
                "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.),"
                " spaces ( ), colon(:) and slashes (/).",
            )
        )
    # Without a slash or a leading dot, normpath returns the name unchanged: skip it.
    if "/" in name or name[0] == ".":
        norm = posixpath.normpath(name)
        if norm != name or norm == "." or norm.startswith(("..", "/")):
            raise InvalidParameterValue(
                invalid_value(
                    path,
                    name,
                    "Names may be treated as files in certain cases, and must not resolve to other names"
                    f" when treated as such. This name would resolve to {norm!r}",
                )
            )
    check_length(path, name, MAX_ENTITY_KEY_LENGTH)
    if len(_GOOD_NAMES) >= _GOOD_NAMES_MAX:
        _GOOD_NAMES.clear()
    _GOOD_NAMES.add(name)


def check_length(path: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise InvalidParameterValue(f"'{path}' exceeds the maximum length of {limit} characters")


def check_run_id(run_id: Any, path: str = "run_id") -> str:
    if not run_id:
        raise InvalidParameterValue(missing_value(path))
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise InvalidParameterValue(invalid_value(path, run_id))
    return run_id


def parse_experiment_id(experiment_id: Any, path: str = "experiment_id") -> int:
    if experiment_id is None or experiment_id == "":
        raise InvalidParameterValue(missing_value(path))
    try:
        value = int(experiment_id)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
        ) from None
    if not _INT64[0] <= value <= _INT64[1] or isinstance(experiment_id, bool):
        raise InvalidParameterValue(f"Invalid experiment ID '{experiment_id}'.")
    return value


def check_experiment_name(name: Any) -> str:
    if name is None or name == "":
        raise InvalidParameterValue(f"Invalid experiment name: '{name or ''}'. Provide a non-empty 'name'.")
    if not isinstance(name, str):
        raise InvalidParameterValue(f"Invalid experiment name: {name}. Expects a string.")
    check_length("name", name, MAX_EXPERIMENT_NAME_LENGTH)
    return name


def check_metric(m: Metric, path: str = "") -> None:
    prefix = f"{path}." if path else ""
    check_name(m.key, f"{prefix}key" if path else "key", "Metric")
    if isinstance(m.value, bool) or not isinstance(m.value, (int, float)):
        raise InvalidParameterValue(
            invalid_value(
                f"{prefix}value",
                m.value,
                f"(timestamp={m.timestamp}). Please specify value as a valid double (64-bit floating point)",
            )
        )
    if isinstance(m.timestamp, bool) or not isinstance(m.timestamp, int) or not 0 <= m.timestamp <= _INT64[1]:
        raise InvalidParameterValue(
            invalid_value(
                f"{prefix}timestamp",
                m.timestamp,
                f"metric '{m.key}' (value={m.value}). Timestamp must be a nonnegative long (64-bit integer) ",
            )
        )
    if isinstance(m.step, bool) or not isinstance(m.step, int) or not _INT64[0] <= m.step <= _INT64[1]:
        raise InvalidParameterValue(
            invalid_value(
                f"{prefix}step",
                m.step,
                f"metric '{m.key}' (value={m.value}). Step must be a valid long (64-bit integer).",
            )
        )


def check_param(p: Param, path: str = "") -> None:
    prefix = f"{path}." if path else ""
    check_name(p.key, f"{prefix}key", "Param")
    if not isinstance(p.value, str):
        raise InvalidParameterValue(invalid_value(f"{prefix}value", p.value, "Param values must be strings."))
    check_length(f"{prefix}value" if path else "Param value", p.value, MAX_PARAM_VAL_LENGTH)


def check_tag(t: RunTag, path: str = "", limit: int = MAX_TAG_VAL_LENGTH) -> None:
    prefix = f"{path}." if path else ""
    check_name(t.key, f"{prefix}key", "Tag")
    if not isinstance(t.value, str):
        raise InvalidParameterValue(invalid_value(f"{prefix}value", t.value, "Tag values must be strings."))
    check_length(f"{prefix}value" if path else "Tag value", t.value, limit)


def check_batch_limits(
    metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag], *, max_metrics: int = MAX_METRICS_PER_BATCH
) -> None:
    total_limit = max(MAX_ENTITIES_PER_BATCH, max_metrics + 2 * MAX_PARAMS_TAGS_PER_BATCH)
    for name, limit, size in (
        ("metrics", max_metrics, len(metrics)),
        ("params", MAX_PARAMS_TAGS_PER_BATCH, len(params)),
        ("tags", MAX_PARAMS_TAGS_PER_BATCH, len(tags)),
        ("metrics, params, and tags", total_limit, len(metrics) + len(params) + len(tags)),
    ):
        if size > limit:
            raise InvalidParameterValue(
                f"A batch logging request can contain at most {limit} {name}. Got {size} {name}. "
                f"Please split up {name} across multiple requests and try again."
            )


def check_batch(metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]) -> None:
    """Check every item; keys are checked once each, well-typed items take a fast path."""
    lo, hi = _INT64
    good_keys: set[str] = set()
    for i, m in enumerate(metrics):
        if type(m.key) is not str or m.key not in good_keys:
            check_name(m.key, f"metrics[{i}].key", "Metric")
            good_keys.add(m.key)
        ts, step = m.timestamp, m.step
        if not (
            type(m.value) in (float, int)
            and type(ts) is int
            and type(step) is int
            and 0 <= ts <= hi
            and lo <= step <= hi
        ):
            check_metric(m, f"metrics[{i}]")
    good = _GOOD_NAMES
    for i, p in enumerate(params):
        if not (type(p.key) is str and p.key in good and type(p.value) is str and len(p.value) <= MAX_PARAM_VAL_LENGTH):
            check_param(p, f"params[{i}]")
    for i, t in enumerate(tags):
        if not (type(t.key) is str and t.key in good and type(t.value) is str and len(t.value) <= MAX_TAG_VAL_LENGTH):
            check_tag(t, f"tags[{i}]")


def check_int64(value: int, path: str) -> int:
    """``value`` if a signed 64-bit column can hold it, else a 400 naming ``path``."""
    if not _INT64[0] <= value <= _INT64[1]:
        raise InvalidParameterValue(invalid_value(path, value, "It must fit in a signed 64-bit integer."))
    return value


def check_max_results(max_results: Any, limit: int, path: str = "max_results") -> int:
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results <= 0 or max_results > limit:
        raise InvalidParameterValue(
            f"Invalid value {max_results} for parameter '{path}' supplied. "
            f"It must be a positive integer at most {limit}."
        )
    return max_results
