"""Declared request schemas of our token usage and price operations (``api/usage.py``)."""

from __future__ import annotations

from typing import Optional, Union

from .schemas import Int64, Request


class SetPrice(Request):
    model: Optional[str] = None
    input_per_million: Optional[float] = None
    output_per_million: Optional[float] = None
    cached_input_per_million: Optional[float] = None
    currency: Optional[str] = None


class Model(Request):
    model: Optional[str] = None


class NoArgs(Request):
    pass


class TraceUsage(Request):
    trace_id: Optional[str] = None


class RunUsage(Request):
    run_id: Optional[str] = None


class VersionUsage(Request):
    name: Optional[str] = None
    version: Optional[Union[Int64, str]] = None
