"""Token usage and prices (see ``api/usage.py``)."""

from __future__ import annotations

from typing import Any

from ...api import schemas_usage as s
from .. import TrackingService


def set_llm_price(svc: TrackingService, req: s.SetPrice) -> dict[str, Any]:
    price = svc.usage.set_price(req.model, req.input_per_million, req.output_per_million,
                                req.cached_input_per_million, req.currency)
    return {"price": price.to_dict()}


def list_llm_prices(svc: TrackingService, req: s.NoArgs) -> dict[str, Any]:
    return {"prices": [p.to_dict() for p in svc.usage.prices()]}


def delete_llm_price(svc: TrackingService, req: s.Model) -> dict[str, Any]:
    svc.usage.delete_price(req.model)
    return {}


def trace_usage(svc: TrackingService, req: s.TraceUsage) -> dict[str, Any]:
    return svc.usage.of_trace(req.trace_id or "")


def run_usage(svc: TrackingService, req: s.RunUsage) -> dict[str, Any]:
    return svc.usage.of_run(req.run_id or "")


def model_version_usage(svc: TrackingService, req: s.VersionUsage) -> dict[str, Any]:
    return svc.usage.of_model_version(req.name or "", req.version)


def prompt_version_usage(svc: TrackingService, req: s.VersionUsage) -> dict[str, Any]:
    return svc.usage.of_prompt_version(req.name or "", req.version)
