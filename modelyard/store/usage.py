"""Token usage roll-ups and the price table in SQL.

A roll-up sums ``span_usage`` per model over a set of traces (one trace, the traces of a run,
of a logged model, or linked to a prompt version); the service prices each model's sums.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, exists, func, insert, or_, select

from ..entities.usage import Price
from . import llm_schema as u
from . import schema as s
from . import traces_schema as t
from .database import Database
from .workspaces import split_model_key

su, lp, tr = u.span_usage, u.llm_prices, t.traces


class UsageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- prices ---------------------------------------------------------------

    def set_price(self, price: Price, now: int) -> None:
        with self.db.write() as conn:
            conn.execute(delete(lp).where(lp.c.model == price.model))
            conn.execute(insert(lp).values(model=price.model, input_per_million=price.input_per_million,
                                           output_per_million=price.output_per_million,
                                           cached_input_per_million=price.cached_input_per_million,
                                           currency=price.currency, updated_time=now))

    def prices(self) -> dict[str, Price]:
        with self.db.read() as conn:
            rows = conn.execute(select(lp.c.model, lp.c.input_per_million, lp.c.output_per_million,
                                       lp.c.cached_input_per_million, lp.c.currency).order_by(lp.c.model)).all()
        return {r[0]: Price(*r) for r in rows}

    def delete_price(self, model: str) -> bool:
        with self.db.write() as conn:
            return bool(conn.execute(delete(lp).where(lp.c.model == model)).rowcount)

    # ---- which traces ---------------------------------------------------------

    @staticmethod
    def of_trace(trace_id: str) -> Select[Any]:
        return select(tr.c.id).where(tr.c.trace_id == trace_id)

    @staticmethod
    def of_run(run_id: str) -> Select[Any]:
        links = t.trace_run_links.c
        return select(tr.c.id).where(or_(tr.c.run_id == run_id,
                                         exists().where(links.trace_pk == tr.c.id, links.run_id == run_id)))

    @staticmethod
    def of_logged_model(model_id: str) -> Select[Any]:
        m = t.trace_metadata.c
        return select(m.trace_pk).where(m.key == "mlflow.modelId", m.value == model_id)

    @staticmethod
    def of_prompt(key: str, version: str) -> Select[Any]:
        """Traces linked to version ``version`` of the prompt whose key (:func:`.workspaces.model_key`) is ``key``:
        those of its workspace's experiments that name it (traces link a prompt by its bare name, and another
        workspace's prompt of that name is another prompt)."""
        workspace, name = split_model_key(key)
        p, e = t.trace_prompt_links.c, s.experiments.c
        return (select(p.trace_pk)
                .join(tr, tr.c.id == p.trace_pk)
                .join(s.experiments, e.experiment_id == tr.c.experiment_id)
                .where(p.name == name, p.version == version, e.workspace == workspace))

    # ---- sums -----------------------------------------------------------------

    def by_model(self, traces: Sequence[Select[Any]]) -> tuple[int, list[tuple[str | None, int, int, int, int]]]:
        """(number of traces, [(model, input, output, cached input, spans)]) over the union of ``traces``."""
        if not traces:
            return 0, []
        pks = traces[0].union(*traces[1:]).subquery() if len(traces) > 1 else traces[0].subquery()
        pk = pks.c[0]
        with self.db.read() as conn:
            n = int(conn.execute(select(func.count()).select_from(pks)).scalar_one())
            rows = conn.execute(
                select(su.c.model, func.sum(su.c.input_tokens), func.sum(su.c.output_tokens),
                       func.sum(su.c.cached_input_tokens), func.count())
                .where(su.c.trace_pk.in_(select(pk))).group_by(su.c.model).order_by(su.c.model)).all()
        return n, [(r[0], int(r[1] or 0), int(r[2] or 0), int(r[3] or 0), int(r[4])) for r in rows]

    # ---- a window of traces (cost and latency alerts) ---------------------------

    def window(self, traces: Sequence[Select[Any]], experiment_ids: Sequence[int], start_ms: int | None,
               end_ms: int, limit: int) -> list[tuple[int, int | None, str]]:
        """(trace pk, execution time in ms, state) of the newest ``limit`` traces requested in [start, end),
        among ``traces`` (their union) when given, in ``experiment_ids`` when given."""
        q = select(tr.c.id, tr.c.execution_time_ms, tr.c.state).where(tr.c.request_time_ms < end_ms)
        if traces:
            pks = traces[0].union(*traces[1:]).subquery() if len(traces) > 1 else traces[0].subquery()
            q = q.where(tr.c.id.in_(select(pks.c[0])))
        if experiment_ids:
            q = q.where(tr.c.experiment_id.in_(list(experiment_ids)))
        if start_ms is not None:
            q = q.where(tr.c.request_time_ms >= start_ms)
        with self.db.read() as conn:
            rows = conn.execute(q.order_by(tr.c.request_time_ms.desc(), tr.c.id.desc()).limit(limit)).all()
        return [(int(r[0]), None if r[1] is None else int(r[1]), str(r[2])) for r in rows]

    def per_trace(self, pks: Sequence[int]) -> list[tuple[int, str | None, int, int, int]]:
        """(trace pk, model, input, output, cached input tokens) summed per trace and model."""
        out: list[tuple[int, str | None, int, int, int]] = []
        with self.db.read() as conn:
            for i in range(0, len(pks), 500):
                rows = conn.execute(
                    select(su.c.trace_pk, su.c.model, func.sum(su.c.input_tokens), func.sum(su.c.output_tokens),
                           func.sum(su.c.cached_input_tokens))
                    .where(su.c.trace_pk.in_(list(pks[i:i + 500]))).group_by(su.c.trace_pk, su.c.model)).all()
                out.extend((int(r[0]), r[1], int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)) for r in rows)
        return out
