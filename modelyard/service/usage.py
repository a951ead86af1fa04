"""Token usage and cost: the editable price table and roll-ups per trace, run, model version and prompt version.

Token counts are stored per span as they arrive (:mod:`modelyard.entities.usage` says which
attributes are read); a cost is computed when asked, from the price table as it is then, so a
corrected price re-prices the past. A model without a price is reported among
``unpriced_models`` and adds no cost.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select

from ..entities.usage import Price, price_for
from ..errors import InvalidParameterValue, ResourceDoesNotExist
from ..store import TrackingStore
from ..store.workspaces import model_key
from . import limits
from .experiments import now_ms

_CURRENCY = re.compile(r"^[A-Z]{3,8}$")


def _amount(value: Any, path: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
        raise InvalidParameterValue(limits.invalid_value(path, value, "a price per million tokens is a number >= 0."))
    return float(value)


class UsageService:
    def __init__(self, store: TrackingStore, svc: Any) -> None:
        self.store = store
        self.svc = svc

    # ---- prices ---------------------------------------------------------------

    def set_price(self, model: Any, input_per_million: Any, output_per_million: Any,
                  cached_input_per_million: Any = None, currency: Any = None) -> Price:
        """Set the price of ``model`` (``gpt-4o``, or a prefix ending in ``*``: ``gpt-4o*``) per million tokens."""
        if not isinstance(model, str) or not model.strip():
            raise InvalidParameterValue(limits.missing_value("model"))
        limits.check_length("model", model, 250)
        currency = currency or "USD"
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            raise InvalidParameterValue(limits.invalid_value("currency", currency, "use a code such as USD or EUR."))
        price = Price(model, _amount(input_per_million, "input_per_million") or 0.0,
                      _amount(output_per_million, "output_per_million") or 0.0,
                      _amount(cached_input_per_million, "cached_input_per_million", optional=True), currency)
        self.store.usage.set_price(price, now_ms())
        return price

    def prices(self) -> list[Price]:
        return list(self.store.usage.prices().values())

    def delete_price(self, model: Any) -> None:
        if not model:
            raise InvalidParameterValue(limits.missing_value("model"))
        if not self.store.usage.delete_price(str(model)):
            raise ResourceDoesNotExist(f"No price for model '{model}'. List prices with `modelyard prices list`.")

    # ---- roll-ups -------------------------------------------------------------

    def _rollup(self, traces: list[Select[Any]]) -> dict[str, Any]:
        n, rows = self.store.usage.by_model(traces)
        prices = self.store.usage.prices()
        models, unpriced, currencies = [], [], set()
        total = {"input_tokens": 0, "output_tokens": 0, "cached_input_tokens": 0}
        cost = 0.0
        for model, inputs, outputs, cached, spans in rows:
            entry: dict[str, Any] = {"model": model, "input_tokens": inputs, "output_tokens": outputs,
                                     "cached_input_tokens": cached, "spans": spans}
            total["input_tokens"] += inputs
            total["output_tokens"] += outputs
            total["cached_input_tokens"] += cached
            price = price_for(model, prices)
            if price is None:
                unpriced.append(model)
            else:
                entry["cost"] = price.cost(inputs, outputs, cached)
                entry["currency"] = price.currency
                currencies.add(price.currency)
                cost += entry["cost"]
            models.append(entry)
        out: dict[str, Any] = {"traces": n, **total, "models": models, "unpriced_models": unpriced}
        if len(currencies) <= 1:
            out["cost"] = cost
            out["currency"] = next(iter(currencies), "USD")
        return out

    def of_trace(self, trace_id: str) -> dict[str, Any]:
        self.svc.traces.get_info(trace_id)  # 404 for an unknown trace
        return self._rollup([self.store.usage.of_trace(trace_id)])

    def of_run(self, run_id: str) -> dict[str, Any]:
        self.svc.runs.get(limits.check_run_id(run_id))
        return self._rollup([self.store.usage.of_run(run_id)])

    def of_model_version(self, name: str, version: Any) -> dict[str, Any]:
        """Traces of the version's logged model (metadata ``mlflow.modelId``) and of its source run."""
        mv = self.svc.registry.get_model_version(name, version)
        traces = []
        if mv.model_id:
            traces.append(self.store.usage.of_logged_model(mv.model_id))
        if mv.run_id:
            traces.append(self.store.usage.of_run(mv.run_id))
        return self._rollup(traces)

    def of_prompt_version(self, name: str, version: Any) -> dict[str, Any]:
        """Traces linked to the prompt version (``traces/link-prompts`` or the trace's linked-prompts tag)."""
        mv = self.svc.registry.get_model_version(name, version)
        return self._rollup([self.store.usage.of_prompt(model_key(mv.name), str(mv.version))])
