"""Token usage and price methods of ``Client`` (our extension).

>>> c = my.Client()
>>> c.set_llm_price("gpt-4o", input_per_million=2.5, output_per_million=10, cached_input_per_million=1.25)
>>> c.run_usage(run_id)["cost"]
0.0123
"""

from __future__ import annotations

from typing import Any

from ..api import schemas_usage as s
from ..api import usage as ops
from ..api.operations import Operation
from ..entities.usage import Price


class UsageMethods:
    def _call(self, op: Operation, request: Any) -> dict[str, Any]:
        raise NotImplementedError  # the Client's

    def set_llm_price(self, model: str, input_per_million: float, output_per_million: float,
                      cached_input_per_million: float | None = None, currency: str = "USD") -> Price:
        """Price ``model`` (or every model starting with a prefix: ``"gpt-4o*"``) per million tokens."""
        req = s.SetPrice(model=model, input_per_million=input_per_million, output_per_million=output_per_million,
                         cached_input_per_million=cached_input_per_million, currency=currency)
        return Price(**self._call(ops.SET_PRICE, req)["price"])

    def list_llm_prices(self) -> list[Price]:
        return [Price(**p) for p in self._call(ops.LIST_PRICES, s.NoArgs()).get("prices", [])]

    def delete_llm_price(self, model: str) -> None:
        self._call(ops.DELETE_PRICE, s.Model(model=model))

    def trace_usage(self, trace_id: str) -> dict[str, Any]:
        """Tokens (input, output, cached input) and cost of one trace, in total and per model."""
        return self._call(ops.TRACE_USAGE, s.TraceUsage(trace_id=trace_id))

    def run_usage(self, run_id: str) -> dict[str, Any]:
        return self._call(ops.RUN_USAGE, s.RunUsage(run_id=run_id))

    def model_version_usage(self, name: str, version: str | int) -> dict[str, Any]:
        return self._call(ops.MODEL_VERSION_USAGE, s.VersionUsage(name=name, version=str(version)))

    def prompt_version_usage(self, name: str, version: str | int) -> dict[str, Any]:
        return self._call(ops.PROMPT_USAGE, s.VersionUsage(name=name, version=str(version)))
