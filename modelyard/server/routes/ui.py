"""Web UI pages at absolute paths (``/``, ``/experiments/{id}``, ``/runs/{id}``, ``/models``…)."""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import FileResponse

from ..ui import (
    STATIC_DIR,
    artifacts,
    compare,
    experiments,
    pipelines,
    registry,
    run_page,
    runs_table,
)
from ..ui.render import action, page

FAVICON = os.path.join(STATIC_DIR, "favicon.svg")


async def favicon(request: Request) -> FileResponse:
    """Browsers ask for ``/favicon.ico`` whatever the page says: answer with our SVG icon, not a 404."""
    return FileResponse(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


ABSOLUTE_ROUTES = [
    ("/favicon.ico", ["GET"], favicon),
    ("/", ["GET"], page(experiments.index)),
    ("/experiments/create", ["POST"], action(experiments.create)),
    ("/experiments/{experiment_id}", ["GET"], page(runs_table.experiment_page)),
    ("/experiments/{experiment_id}/rename", ["POST"], action(experiments.rename)),
    ("/experiments/{experiment_id}/delete", ["POST"], action(experiments.delete)),
    ("/experiments/{experiment_id}/restore", ["POST"], action(experiments.restore)),
    ("/runs/{run_id}", ["GET"], page(run_page.run_page)),
    ("/runs/{run_id}/metrics", ["GET"], page(run_page.run_metrics)),
    ("/runs/{run_id}/description", ["POST"], action(run_page.set_description)),
    ("/runs/{run_id}/tags", ["POST"], action(run_page.add_tag)),
    ("/runs/{run_id}/tags/delete", ["POST"], action(run_page.delete_tag)),
    ("/runs/{run_id}/artifacts/tree", ["GET"], page(artifacts.tree)),
    ("/runs/{run_id}/artifacts/preview", ["GET"], page(artifacts.preview_fragment)),
    ("/runs/{run_id}/artifacts/raw", ["GET"], page(artifacts.raw)),
    ("/ui/series", ["GET"], page(run_page.series)),
    ("/compare", ["GET"], page(compare.compare_page)),
    ("/models", ["GET"], page(registry.models_page)),
    ("/models/{name}", ["GET"], page(registry.model_page)),
    ("/models/{name}/versions/{version}", ["GET"], page(registry.version_page)),
    ("/models/{name}/versions/{version}/alias", ["POST"], action(registry.set_alias)),
    ("/models/{name}/versions/{version}/alias/delete", ["POST"], action(registry.delete_alias)),
    ("/models/{name}/versions/{version}/stage", ["POST"], action(registry.set_stage)),
    ("/pipelines", ["GET"], page(pipelines.runs_page)),
    ("/pipelines/runs/{run_id}", ["GET"], page(pipelines.run_page)),
    ("/pipelines/runs/{run_id}/resume", ["POST"], action(pipelines.resume)),
    ("/pipelines/runs/{run_id}/rerun", ["POST"], action(pipelines.rerun)),
]
