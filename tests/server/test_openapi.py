"""/openapi.json lists every route the app declares, with the schemas its endpoints decode."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest
import schemathesis
from starlette.routing import Route

from modelyard.api import schemas as s
from modelyard.server import create_app
from modelyard.server.openapi import api_twin, build
from modelyard.server.protocol import accepts
from modelyard.settings import Settings
from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], list[Route]]]:
    """The document a live server answers, and the routes the app it runs declares."""
    folder = tmp_path_factory.mktemp("openapi")
    server = LiveServer(f"sqlite:///{folder / 'db.sqlite'}", str(folder / "artifacts"))
    try:
        doc = httpx.get(server.url + "/openapi.json", timeout=30).json()
    finally:
        server.stop()
    settings = Settings(backend_store_uri=f"sqlite:///{folder / 'app.sqlite'}",
                        artifacts_destination=str(folder / "artifacts"), background_workers=False)
    app = create_app(settings)
    try:
        yield doc, [r for r in app.routes if isinstance(r, Route)]
    finally:
        app.hot.close()
        app.state.service.close()


def template(path: str) -> str:
    """A Starlette path as OpenAPI writes it: ``{part_number:int}`` → ``{part_number}``."""
    return re.sub(r"{([^}:]+)(?::[^}]+)?}", r"{\1}", path)


def test_every_declared_route_and_method_is_listed(served: tuple[dict[str, Any], list[Route]]) -> None:
    doc, routes = served
    assert len(routes) > 200  # MLflow's API, its /ajax-api twins, ours, the pages
    missing = []
    for route in routes:
        twin = api_twin(route.path)  # an /ajax-api route is listed as its /api twin, if it has one
        path = template(twin if any(r.path == twin for r in routes) else route.path)
        for method in (route.methods or set()) - {"HEAD"}:
            if method.lower() not in doc["paths"].get(path, {}):
                missing.append(f"{method} {route.path}")
    assert not missing, f"routes the app declares but /openapi.json leaves out: {missing}"
    assert "/openapi.json" in doc["paths"] and "/api/2.0/modelyard/runs/ingest" in doc["paths"]
    assert not any(p.startswith("/ajax-api/") for p in doc["paths"] if api_twin(p) in doc["paths"])


def test_each_endpoint_is_described_by_the_struct_it_decodes(served: tuple[dict[str, Any], list[Route]]) -> None:
    doc, _ = served
    schemas = doc["components"]["schemas"]
    batch = doc["paths"]["/api/2.0/mlflow/runs/log-batch"]["post"]["requestBody"]["content"]["application/json"]
    component = schemas[batch["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert {"run_id", "metrics", "params", "tags"} <= component["properties"].keys()
    get_run = doc["paths"]["/api/2.0/mlflow/runs/get"]["get"]
    assert {p["name"] for p in get_run["parameters"]} == {"run_id", "run_uuid"}
    assert all(p["in"] == "query" for p in get_run["parameters"])
    update = schemas[doc["paths"]["/api/2.0/mlflow/runs/update"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]]
    end_time = next(o for o in update["properties"]["end_time"]["anyOf"] if o.get("type") == "integer")
    assert end_time["maximum"] == 2**63 - 1  # the bound the server enforces is the one it publishes
    # A webhook is deleted with its id in the path and read with query parameters.
    hook = doc["paths"]["/api/2.0/mlflow/webhooks/{webhook_id}"]
    assert [p["in"] for p in hook["delete"]["parameters"]] == ["path"]
    part = doc["paths"]["/api/2.0/mlflow-artifacts/mpu/part/{upload_id}/{part_number}"]["put"]
    assert {p["name"]: p["schema"]["type"] for p in part["parameters"]} == {"upload_id": "string",
                                                                             "part_number": "integer"}


def test_the_document_is_valid_openapi_that_schemathesis_reads(served: tuple[dict[str, Any], list[Route]]) -> None:
    doc, _ = served
    assert doc["openapi"].startswith("3.1")
    operations = [result.ok() for result in schemathesis.openapi.from_dict(doc).get_all_operations()]
    assert len(operations) == sum(len(methods) for methods in doc["paths"].values())


def test_a_new_route_is_listed_as_soon_as_it_is_declared() -> None:
    class Probe(msgspec.Struct):
        count: s.Int64 = 0
        names: list[str] = []

    @accepts(Probe)
    async def probe(request: Any) -> Any:
        raise NotImplementedError

    doc = build([Route("/api/2.0/modelyard/probe/{probe_id}", probe, methods=["GET", "POST"]),
                 Route("/ajax-api/2.0/modelyard/probe/{probe_id}", probe, methods=["GET", "POST"])], "t", "1")
    assert list(doc["paths"]) == ["/api/2.0/modelyard/probe/{probe_id}"]
    ops = doc["paths"]["/api/2.0/modelyard/probe/{probe_id}"]
    assert [p["name"] for p in ops["get"]["parameters"]] == ["probe_id", "count", "names"]
    assert ops["get"]["parameters"][2]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert ops["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("Probe")
