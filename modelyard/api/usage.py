"""Our extension for LLM cost: the price table (per million tokens, per model) and token/cost roll-ups.

Roll-ups read a trace, a run, a model version or a prompt version: READ on it. Prices are the
server's: anyone may read them, only admins change them (MANAGE on the server).
"""

from __future__ import annotations

from . import schemas_usage as s
from .operations import EXT, Table, manage, read

t = Table("usage", "modelyard.service.handlers")
U = f"{EXT}/llm"

SET_PRICE = t.add("set_llm_price", "POST", f"{U}/prices", s.SetPrice, "usage:set_llm_price", manage(),
                  idempotent=True, summary="Set a model's price per million input, output and cached input tokens.")
LIST_PRICES = t.add("list_llm_prices", "GET", f"{U}/prices", s.NoArgs, "usage:list_llm_prices", read(),
                    idempotent=True, summary="The price table.")
DELETE_PRICE = t.add("delete_llm_price", "DELETE", f"{U}/prices", s.Model, "usage:delete_llm_price", manage(),
                     idempotent=True, summary="Remove a model's price.")
TRACE_USAGE = t.add("trace_usage", "GET", f"{U}/usage/trace", s.TraceUsage, "usage:trace_usage",
                    read("trace", "trace_id"), idempotent=True, summary="Tokens and cost of one trace, per model.")
RUN_USAGE = t.add("run_usage", "GET", f"{U}/usage/run", s.RunUsage, "usage:run_usage", read("run", "run_id"),
                  idempotent=True, summary="Tokens and cost of a run's traces, per model.")
MODEL_VERSION_USAGE = t.add("model_version_usage", "GET", f"{U}/usage/model-version", s.VersionUsage,
                            "usage:model_version_usage", read("registered_model", "name"), idempotent=True,
                            summary="Tokens and cost of the traces of a model version (its logged model and run).")
PROMPT_USAGE = t.add("prompt_version_usage", "GET", f"{U}/usage/prompt-version", s.VersionUsage,
                     "usage:prompt_version_usage", read("registered_model", "name"), idempotent=True,
                     summary="Tokens and cost of the traces linked to a prompt version.")
