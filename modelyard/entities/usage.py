"""Token usage of a span, read from the attributes LLM clients set, and its cost from a price.

Understood attributes, first found wins:

- MLflow 3.17 (``mlflow.chat.tokenUsage``: ``input_tokens``, ``output_tokens``,
  ``cache_read_input_tokens``; model in ``mlflow.llm.model``). MLflow's client JSON-encodes
  attribute values; both the encoded and the plain form are read.
- OpenTelemetry GenAI conventions: ``gen_ai.usage.input_tokens`` (or ``prompt_tokens``),
  ``gen_ai.usage.output_tokens`` (or ``completion_tokens``), cached input in
  ``gen_ai.usage.cache_read.input_tokens`` / ``gen_ai.usage.cache_read_input_tokens``; model in
  ``gen_ai.response.model`` then ``gen_ai.request.model``.
- OpenInference: ``llm.token_count.prompt`` / ``completion`` / ``prompt_details.cache_read``,
  model in ``llm.model_name``.

Cached input tokens are counted among the input tokens (as OpenAI reports them) and priced at
the cached price: ``cost = (input - cached) * input_price + cached * cached_price + output *
output_price`` per million tokens (the cached price defaults to the input price when unset).

>>> span_usage({"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 50,
...             "gen_ai.usage.cache_read.input_tokens": 800, "gen_ai.request.model": "gpt-4o"})
Usage(model='gpt-4o', input_tokens=1000, output_tokens=50, cached_input_tokens=800)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Usage:
    model: str | None
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int


@dataclass(frozen=True)
class Price:
    """Prices per million tokens of a model (``model`` may end in ``*``: a prefix)."""

    model: str
    input_per_million: float
    output_per_million: float
    cached_input_per_million: float | None = None
    currency: str = "USD"

    def cost(self, input_tokens: int, output_tokens: int, cached_input_tokens: int) -> float:
        cached = min(cached_input_tokens, input_tokens)
        cached_price = self.input_per_million if self.cached_input_per_million is None else self.cached_input_per_million
        return ((input_tokens - cached) * self.input_per_million + cached * cached_price
                + output_tokens * self.output_per_million) / 1_000_000

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "input_per_million": self.input_per_million,
                               "output_per_million": self.output_per_million, "currency": self.currency}
        if self.cached_input_per_million is not None:
            out["cached_input_per_million"] = self.cached_input_per_million
        return out


def price_for(model: str | None, prices: dict[str, Price]) -> Price | None:
    """The price of ``model``: an exact entry, else the longest ``prefix*`` entry it starts with."""
    if not model:
        return None
    if model in prices:
        return prices[model]
    best = None
    for key, price in prices.items():
        if key.endswith("*") and model.startswith(key[:-1]) and (best is None or len(key) > len(best.model)):
            best = price
    return best


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _int(value: Any) -> int | None:
    value = _plain(value)
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number < 2**62 else None


def _first(attributes: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in attributes and attributes[key] is not None:
            return attributes[key]
    return None


# The attributes that report tokens (span_usage): a span with none of them reports no usage.
TOKEN_KEYS = frozenset((
    "mlflow.chat.tokenUsage", "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt",
    "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"))


def span_usage(attributes: dict[str, Any]) -> Usage | None:
    """The token usage a span's attributes report, or None if they report none."""
    if TOKEN_KEYS.isdisjoint(attributes):  # most spans: no need to look further
        return None
    model = _plain(_first(attributes, "mlflow.llm.model", "gen_ai.response.model", "gen_ai.request.model",
                          "llm.model_name"))
    model = str(model)[:250] if model not in (None, "") else None
    mlflow_usage = _plain(attributes.get("mlflow.chat.tokenUsage"))
    if isinstance(mlflow_usage, dict):
        found: tuple[Any, Any, Any] = (mlflow_usage.get("input_tokens"), mlflow_usage.get("output_tokens"),
                                       mlflow_usage.get("cache_read_input_tokens"))
    else:
        found = (
            _first(attributes, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
            _first(attributes, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                   "llm.token_count.completion"),
            _first(attributes, "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                   "llm.token_count.prompt_details.cache_read"),
        )
    inputs, outputs, cached = (_int(v) for v in found)
    if inputs is None and outputs is None:
        return None
    return Usage(model, inputs or 0, outputs or 0, min(cached or 0, inputs or 0))
