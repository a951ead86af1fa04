"""Pipelines methods of the HTTP transport (our extension endpoints under /api/2.0/modelyard/pipelines)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

P = "/api/2.0/modelyard/pipelines"


def _q(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


class HttpPipelines:
    send: Callable[..., dict[str, Any]]

    def record_pipeline(self, batch: dict[str, Any]) -> None:
        self.send("POST", f"{P}/record", batch)

    def get_pipeline_run(self, run_id: str) -> dict[str, Any]:
        return self.send("GET", f"{P}/runs/get", params={"run_id": run_id})["pipeline_run"]

    def search_pipeline_runs(self, pipeline, status, max_results, page_token):  # type: ignore[no-untyped-def]
        return self.send("GET", f"{P}/runs/search", params=_q(pipeline=pipeline, status=status, max_results=max_results,
                                                               page_token=page_token))

    def get_pipeline_lineage(self, run_id: str) -> dict[str, Any]:
        return self.send("GET", f"{P}/runs/lineage", params={"run_id": run_id})

    def pipeline_cache_keys(self, pipeline: str) -> list[str]:
        return self.send("GET", f"{P}/cache/keys", params={"pipeline": pipeline}).get("keys", [])

    def pipeline_cache_entry(self, cache_key: str) -> dict[str, Any] | None:
        return self.send("GET", f"{P}/cache/get", params={"cache_key": cache_key}).get("entry")

    def pipeline_cache_entries(self, cache_keys: list[str]) -> list[dict[str, Any]]:
        return self.send("POST", f"{P}/cache/get-many", {"cache_keys": cache_keys}).get("entries", [])

    def list_pipeline_cache(self, pipeline, step, max_results):  # type: ignore[no-untyped-def]
        return self.send("GET", f"{P}/cache/list", params=_q(pipeline=pipeline, step=step, max_results=max_results)).get(
            "entries", [])

    def clear_pipeline_cache(self, pipeline, step):  # type: ignore[no-untyped-def]
        return self.send("POST", f"{P}/cache/clear", _q(pipeline=pipeline, step=step)).get("deleted", 0)

    def list_registered_pipelines(self) -> list[dict[str, Any]]:
        return self.send("GET", f"{P}/registered").get("pipelines", [])

    def create_pipeline_schedule(self, name, reference, cron, params, executor, date_param, catchup, paused):  # type: ignore[no-untyped-def]
        body = {"name": name, "reference": reference, "cron": cron, "params": params, "executor": executor,
                "date_param": date_param, "catchup": catchup, "paused": paused}
        return self.send("POST", f"{P}/schedules/create", body)["schedule"]

    def get_pipeline_schedule(self, name: str) -> dict[str, Any]:
        return self.send("GET", f"{P}/schedules/get", params={"name": name})["schedule"]

    def list_pipeline_schedules(self) -> list[dict[str, Any]]:
        return self.send("GET", f"{P}/schedules/list").get("schedules", [])

    def set_pipeline_schedule_paused(self, name: str, paused: bool) -> dict[str, Any]:
        return self.send("POST", f"{P}/schedules/update", {"name": name, "paused": paused})["schedule"]

    def delete_pipeline_schedule(self, name: str) -> None:
        self.send("POST", f"{P}/schedules/delete", {"name": name})

    def pipeline_schedule_ticks(self, name: str, max_results: int) -> list[dict[str, Any]]:
        return self.send("GET", f"{P}/schedules/ticks", params={"name": name, "max_results": max_results}).get("ticks", [])

    def claim_pipeline_backfill(self, name: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        return self.send("POST", f"{P}/schedules/backfill", {"name": name, "start": start_ms, "end": end_ms}).get("ticks", [])

    def set_pipeline_tick(self, tick_id: int, status: str, pipeline_run_id: str | None) -> None:
        self.send("POST", f"{P}/ticks/update", _q(tick_id=tick_id, status=status, pipeline_run_id=pipeline_run_id))

    def create_pipeline_trigger(self, name, kind, reference, params, executor, config):  # type: ignore[no-untyped-def]
        body = {"name": name, "kind": kind, "reference": reference, "params": params, "executor": executor,
                "config": config}
        return self.send("POST", f"{P}/triggers/create", body)["trigger"]

    def get_pipeline_trigger(self, name: str) -> dict[str, Any]:
        return self.send("GET", f"{P}/triggers/get", params={"name": name})["trigger"]

    def list_pipeline_triggers(self) -> list[dict[str, Any]]:
        return self.send("GET", f"{P}/triggers/list").get("triggers", [])

    def set_pipeline_trigger_paused(self, name: str, paused: bool) -> dict[str, Any]:
        return self.send("POST", f"{P}/triggers/update", {"name": name, "paused": paused})["trigger"]

    def delete_pipeline_trigger(self, name: str) -> None:
        self.send("POST", f"{P}/triggers/delete", {"name": name})

    def fire_pipeline_trigger(self, name, payload, dedupe_key, token):  # type: ignore[no-untyped-def]
        return self.send("POST", f"{P}/triggers/fire", _q(name=name, payload=payload, dedupe_key=dedupe_key, token=token))

    def pipeline_trigger_events(self, name: str, max_results: int) -> list[dict[str, Any]]:
        return self.send("GET", f"{P}/triggers/events", params={"name": name, "max_results": max_results}).get("events", [])
