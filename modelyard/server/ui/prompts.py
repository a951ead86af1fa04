"""Prompt pages: the prompt list, a prompt's versions (template, commit message, aliases), a diff of two versions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...entities.prompts import IS_PROMPT_TAG, PromptVersion
from ...errors import InvalidParameterValue, ModelyardError
from ..auth import readable
from .experiments import name_filter
from .render import inline_status, render, service

PAGE_SIZE = 50


def prompts_page(request: Request) -> Response:
    svc = service(request)
    q = request.query_params.get("q", "")
    token = request.query_params.get("page_token") or None
    error, prompts, next_token = None, [], None
    try:
        where = f"tags.`{IS_PROMPT_TAG}` = 'true'" + (f" AND {name_filter(q)}" if name_filter(q) else "")
        found = svc.registry.search_registered_models(where, max_results=PAGE_SIZE, order_by=["name ASC"],
                                                      page_token=token)
        prompts, next_token = found.items, found.next_page_token
        allowed = readable(request, "registered_model", [p.name for p in prompts])
        prompts = [p for p in prompts if p.name in allowed]
    except ModelyardError as exc:
        error = exc.message
    return render(request, "prompts.html", status=inline_status(request) if error else 200, section="prompts",
                  prompts=prompts, q=q, error=error, next_token=next_token, params={"q": q},
                  internal=(IS_PROMPT_TAG, "_mlflow_experiment_ids"))


def _versions(request: Request, name: str) -> list[PromptVersion]:
    clause = f"name = '{name}'" if "'" not in name else f'name = "{name}"'
    found = service(request).registry.search_model_versions(
        f"{clause} AND tags.`{IS_PROMPT_TAG}` = 'true'", max_results=1000, order_by=["version_number DESC"])
    return [PromptVersion.from_model_version(mv) for mv in found.items]


def prompt_page(request: Request) -> Response:
    prompt = service(request).registry.get_registered_model(request.path_params["name"])
    if prompt.tags.get(IS_PROMPT_TAG, "").lower() != "true":
        raise InvalidParameterValue(f"'{prompt.name}' is a registered model, not a prompt: see /models/{prompt.name}.")
    versions = _versions(request, prompt.name)
    return render(request, "prompt.html", section="prompts", prompt=prompt, versions=versions,
                  internal=(IS_PROMPT_TAG, "_mlflow_experiment_ids"))


def diff_page(request: Request) -> Response:
    name = request.path_params["name"]
    versions = {pv.version: pv for pv in _versions(request, name)}
    try:
        old, new = int(request.query_params.get("from", "")), int(request.query_params.get("to", ""))
    except ValueError:
        raise InvalidParameterValue("Choose two versions to compare: ?from=1&to=2.") from None
    missing = [v for v in (old, new) if v not in versions]
    if missing:
        raise InvalidParameterValue(f"Prompt '{name}' has no version {missing[0]}.")
    lines = versions[old].diff(versions[new])
    return render(request, "prompt_diff.html", section="prompts", name=name, old=versions[old], new=versions[new],
                  lines=lines, numbers=sorted(versions, reverse=True))
