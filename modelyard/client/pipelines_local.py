"""Pipelines methods of the in-process transport (they call the service)."""

from __future__ import annotations

from typing import Any


class LocalPipelines:
    service: Any

    def record_pipeline(self, batch: dict[str, Any]) -> None:
        self.service.pipelines.record(batch)

    def get_pipeline_run(self, run_id: str) -> dict[str, Any]:
        return self.service.pipelines.get_run(run_id)

    def search_pipeline_runs(self, pipeline, status, max_results, page_token):  # type: ignore[no-untyped-def]
        return self.service.pipelines.list_runs(pipeline, status, max_results, page_token)

    def get_pipeline_lineage(self, run_id: str) -> dict[str, Any]:
        return self.service.pipelines.lineage(run_id)

    def pipeline_cache_keys(self, pipeline: str) -> list[str]:
        return self.service.pipelines.cache_keys(pipeline)

    def pipeline_cache_entry(self, cache_key: str) -> dict[str, Any] | None:
        return self.service.pipelines.cache_entry(cache_key)

    def pipeline_cache_entries(self, cache_keys: list[str]) -> list[dict[str, Any]]:
        return self.service.pipelines.cache_entries(cache_keys)

    def list_pipeline_cache(self, pipeline, step, max_results):  # type: ignore[no-untyped-def]
        return self.service.pipelines.cache_list(pipeline, step, max_results)

    def clear_pipeline_cache(self, pipeline, step):  # type: ignore[no-untyped-def]
        return self.service.pipelines.cache_clear(pipeline, step)

    def list_registered_pipelines(self) -> list[dict[str, Any]]:
        return self.service.pipelines.registered()

    def create_pipeline_schedule(self, name, reference, cron, params, executor, date_param, catchup, paused):  # type: ignore[no-untyped-def]
        return self.service.pipelines.create_schedule(name, reference, cron, params, executor, date_param, catchup, paused)

    def get_pipeline_schedule(self, name: str) -> dict[str, Any]:
        return self.service.pipelines.get_schedule(name)

    def list_pipeline_schedules(self) -> list[dict[str, Any]]:
        return self.service.pipelines.list_schedules()

    def set_pipeline_schedule_paused(self, name: str, paused: bool) -> dict[str, Any]:
        return self.service.pipelines.set_schedule_paused(name, paused)

    def delete_pipeline_schedule(self, name: str) -> None:
        self.service.pipelines.delete_schedule(name)

    def pipeline_schedule_ticks(self, name: str, max_results: int) -> list[dict[str, Any]]:
        return self.service.pipelines.schedule_ticks(name, max_results)

    def claim_pipeline_backfill(self, name: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        return self.service.pipelines.claim_backfill(name, start_ms, end_ms)

    def set_pipeline_tick(self, tick_id: int, status: str, pipeline_run_id: str | None) -> None:
        self.service.pipelines.set_tick(tick_id, status, pipeline_run_id)

    def create_pipeline_trigger(self, name, kind, reference, params, executor, config):  # type: ignore[no-untyped-def]
        return self.service.pipelines.create_trigger(name, kind, reference, params, executor, config)

    def get_pipeline_trigger(self, name: str) -> dict[str, Any]:
        return self.service.pipelines.get_trigger(name)

    def list_pipeline_triggers(self) -> list[dict[str, Any]]:
        return self.service.pipelines.list_triggers()

    def set_pipeline_trigger_paused(self, name: str, paused: bool) -> dict[str, Any]:
        return self.service.pipelines.set_trigger_paused(name, paused)

    def delete_pipeline_trigger(self, name: str) -> None:
        self.service.pipelines.delete_trigger(name)

    def fire_pipeline_trigger(self, name, payload, dedupe_key, token):  # type: ignore[no-untyped-def]
        return self.service.pipelines.fire_trigger(name, payload, dedupe_key, token)

    def pipeline_trigger_events(self, name: str, max_results: int) -> list[dict[str, Any]]:
        return self.service.pipelines.trigger_events(name, max_results)
