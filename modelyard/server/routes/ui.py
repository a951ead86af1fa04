"""Web UI pages at absolute paths (``/``, ``/experiments/{id}``, ``/runs/{id}``, ``/models``…)."""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import FileResponse

from ..ui import (
    STATIC_DIR,
    admin,
    approvals,
    artifacts,
    charts,
    compare,
    experiments,
    login,
    pipelines,
    prompts,
    registry,
    run_page,
    runs_table,
)
from ..ui.render import action, page

FAVICON = os.path.join(STATIC_DIR, "favicon.svg")

# What each page and form needs of the caller when the server authenticates (server/auth.py's rules):
# READ on what a page shows, EDIT or MANAGE for its actions; lists show only what the caller may read.
EXPERIMENT = ("experiment", "experiment_id")
READ_EXPERIMENT = ("READ", *EXPERIMENT)
READ_RUN, EDIT_RUN = ("READ", "run", "run_id"), ("EDIT", "run", "run_id")
ADMIN = ("MANAGE", "server", "")  # admins only
READ_MODEL, EDIT_MODEL = ("READ", "registered_model", "name"), ("EDIT", "registered_model", "name")


async def favicon(request: Request) -> FileResponse:
    """Browsers ask for ``/favicon.ico`` whatever the page says: answer with our SVG icon, not a 404."""
    return FileResponse(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


ABSOLUTE_ROUTES = [
    ("/favicon.ico", ["GET"], favicon),
    ("/login", ["GET"], page(login.login_page)),
    ("/login", ["POST"], action(login.sign_in)),
    ("/logout", ["POST"], action(login.sign_out)),
    ("/", ["GET"], page(experiments.index)),  # lists only what the caller may read
    ("/experiments/create", ["POST"], action(experiments.create, ("EDIT", "server", ""))),
    ("/experiments/{experiment_id}", ["GET"], page(runs_table.experiment_page, READ_EXPERIMENT)),
    ("/experiments/{experiment_id}/rename", ["POST"], action(experiments.rename, ("EDIT", *EXPERIMENT))),
    ("/experiments/{experiment_id}/delete", ["POST"], action(experiments.delete, ("MANAGE", *EXPERIMENT))),
    ("/experiments/{experiment_id}/restore", ["POST"], action(experiments.restore, ("MANAGE", *EXPERIMENT))),
    # Each selected run is checked inside for what delete_run / restore_run ask of it.
    ("/experiments/{experiment_id}/runs/delete", ["POST"], action(runs_table.delete_runs, READ_EXPERIMENT)),
    ("/experiments/{experiment_id}/runs/restore", ["POST"], action(runs_table.restore_runs, READ_EXPERIMENT)),
    ("/experiments/{experiment_id}/runs/tag", ["POST"], action(runs_table.tag_runs, READ_EXPERIMENT)),  # set/delete_tag's
    ("/runs/{run_id}", ["GET"], page(run_page.run_page, READ_RUN)),
    ("/runs/{run_id}/metrics", ["GET"], page(run_page.run_metrics, READ_RUN)),
    ("/runs/{run_id}/description", ["POST"], action(run_page.set_description, EDIT_RUN)),
    ("/runs/{run_id}/tags", ["POST"], action(run_page.add_tag, EDIT_RUN)),
    ("/runs/{run_id}/tags/delete", ["POST"], action(run_page.delete_tag, EDIT_RUN)),
    ("/runs/{run_id}/artifacts/tree", ["GET"], page(artifacts.tree, READ_RUN)),
    ("/runs/{run_id}/artifacts/preview", ["GET"], page(artifacts.preview_fragment, READ_RUN)),
    ("/runs/{run_id}/artifacts/raw", ["GET"], page(artifacts.raw, READ_RUN)),
    ("/experiments/{experiment_id}/charts", ["GET"], page(charts.board_page, READ_EXPERIMENT)),
    ("/experiments/{experiment_id}/charts/layout", ["POST"], action(charts.save_layout, ("EDIT", *EXPERIMENT))),
    ("/experiments/{experiment_id}/charts/reset", ["POST"], action(charts.reset_layout, ("EDIT", *EXPERIMENT))),
    ("/metric", ["GET"], page(charts.metric_page)),  # READ on each run asked for, checked inside
    ("/ui/series", ["GET"], page(charts.series)),  # likewise
    ("/ui/histories", ["GET"], page(charts.histories)),  # likewise
    ("/compare", ["GET"], page(compare.compare_page)),  # likewise
    ("/models", ["GET"], page(registry.models_page)),  # lists only what the caller may read
    ("/models/{name}", ["GET"], page(registry.model_page, READ_MODEL)),
    ("/models/{name}/description", ["POST"], action(registry.set_model_description, EDIT_MODEL)),
    ("/models/{name}/tags", ["POST"], action(registry.set_model_tag, EDIT_MODEL)),
    ("/models/{name}/tags/delete", ["POST"], action(registry.delete_model_tag, EDIT_MODEL)),
    ("/models/{name}/compare", ["GET"], page(registry.compare_versions_page, READ_MODEL)),  # READ on each run inside
    ("/models/{name}/versions/{version}", ["GET"], page(registry.version_page, READ_MODEL)),
    ("/models/{name}/versions/{version}/description", ["POST"], action(registry.set_version_description, EDIT_MODEL)),
    ("/models/{name}/versions/{version}/tags", ["POST"], action(registry.set_version_tag, EDIT_MODEL)),
    ("/models/{name}/versions/{version}/tags/delete", ["POST"], action(registry.delete_version_tag, EDIT_MODEL)),
    ("/models/{name}/versions/{version}/alias", ["POST"], action(registry.set_alias, EDIT_MODEL)),
    ("/models/{name}/versions/{version}/alias/delete", ["POST"], action(registry.delete_alias, EDIT_MODEL)),
    ("/models/{name}/versions/{version}/stage", ["POST"], action(registry.set_stage, EDIT_MODEL)),
    ("/approvals", ["GET"], page(approvals.approvals_page)),  # lists only the models the caller may read
    # Approving or rejecting: the promotion service refuses whoever is not an approver of the model.
    ("/approvals/{name}/{request_id}/approve", ["POST"], action(approvals.approve, READ_MODEL)),
    ("/approvals/{name}/{request_id}/reject", ["POST"], action(approvals.reject, READ_MODEL)),
    ("/admin", ["GET"], page(admin.admin_page, ADMIN)),
    ("/admin/users", ["POST"], action(admin.create_user, ADMIN)),
    ("/admin/grants", ["POST"], action(admin.grant, ADMIN)),
    ("/admin/grants/revoke", ["POST"], action(admin.revoke, ADMIN)),
    ("/admin/tokens/revoke", ["POST"], action(admin.revoke_token, ADMIN)),
    ("/pipelines", ["GET"], page(pipelines.runs_page)),  # lists only what the caller may read
    ("/pipelines/runs/{run_id}", ["GET"], page(pipelines.run_page, READ_RUN)),
    ("/pipelines/runs/{run_id}/resume", ["POST"], action(pipelines.resume, EDIT_RUN)),
    ("/pipelines/runs/{run_id}/rerun", ["POST"], action(pipelines.rerun, EDIT_RUN)),
    # Prompt pages (prompts are registered models: READ on the prompt).
    ("/prompts", ["GET"], page(prompts.prompts_page)),  # lists only what the caller may read
    ("/prompts/{name}", ["GET"], page(prompts.prompt_page, READ_MODEL)),
    ("/prompts/{name}/diff", ["GET"], page(prompts.diff_page, READ_MODEL)),
]
