"""The app's lifespan starts the background workers (and survives our custom router)."""

from __future__ import annotations

import asyncio

from modelyard.server import create_app
from modelyard.server import workers as workers_package
from modelyard.settings import Settings


def test_lifespan_starts_and_stops_workers(tmp_path, monkeypatch):
    events: list[str] = []

    class Probe:
        async def stop(self) -> None:
            events.append("stopped")

    def start_all(service):
        events.append("started")
        return [Probe()]

    monkeypatch.setattr(workers_package, "start_all", start_all)
    app = create_app(
        Settings(backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}", artifacts_destination=str(tmp_path / "a"))
    )

    async def run() -> None:
        async with app.router.lifespan_context(app):
            assert events == ["started"]

    asyncio.run(run())
    assert events == ["started", "stopped"]
