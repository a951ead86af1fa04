"""The OpenAPI 3.1 document of a serving process, with the request shapes of the loaded model."""

from __future__ import annotations

from typing import Any

from .model import LoadedModel

_TYPES = {"double": "number", "float": "number", "long": "integer", "integer": "integer",
          "boolean": "boolean", "string": "string", "binary": "string", "datetime": "string"}
_V2 = {"double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32", "boolean": "BOOL"}


def record_schema(model: LoadedModel) -> dict[str, Any]:
    cols = model.reader.columns()
    if not cols:
        return {"description": "Any JSON the model accepts (no column signature)."}
    return {
        "type": "object",
        "properties": {name: {"type": _TYPES.get(kind, "object")} for name, kind in cols},
        "required": [s.name for s in model.reader.specs if getattr(s, "required", False) and s.name],
    }


def v2_inputs(model: LoadedModel) -> list[dict[str, Any]]:
    if model.reader.tensor is not None:
        t = model.reader.tensor
        return [{"name": t.name or "input", "datatype": _V2.get(str(t.dtype).replace("float64", "double"), "FP64"),
                 "shape": list(t.shape)}]
    return [{"name": name, "datatype": _V2.get(kind, "BYTES"), "shape": [-1]} for name, kind in model.reader.columns()]


def _json_body(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"required": True, "content": {"application/json": content}}


def _ok(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def openapi_document(model: LoadedModel) -> dict[str, Any]:
    record = {"$ref": "#/components/schemas/Record"}
    invocation = {
        "type": "object",
        "description": "Exactly one of dataframe_split, dataframe_records, instances, inputs (or a text/csv body).",
        "properties": {
            "dataframe_split": {"type": "object", "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}}}},
            "dataframe_records": {"type": "array", "items": record},
            "instances": {"type": "array"},
            "inputs": {},
            "params": {"type": "object"},
        },
    }
    errors = {"400": _ok("The input does not match the signature; the message names the field."),
              "503": _ok("The model is still loading.")}
    predictions = {"type": "object", "properties": {"predictions": {"type": "array"}}}
    v2_request = {"type": "object", "required": ["inputs"], "properties": {
        "id": {"type": "string"}, "parameters": {"type": "object"},
        "inputs": {"type": "array", "items": {"type": "object", "required": ["name", "shape", "datatype", "data"],
                                              "properties": {"name": {"type": "string"},
                                                             "shape": {"type": "array", "items": {"type": "integer"}},
                                                             "datatype": {"type": "string"}, "data": {}}}}}}
    infer = {"post": {"summary": "Open Inference Protocol v2 inference",
                      "requestBody": _json_body(v2_request),
                      "responses": {"200": _ok("Outputs as tensors."), **errors}}}
    paths: dict[str, Any] = {
        "/invocations": {"post": {
            "summary": f"Predict with {model.name} (MLflow scoring protocol)",
            "requestBody": _json_body(invocation, _example(model)),
            "responses": {"200": _ok("Predictions; header x-model-version names the version.", predictions),
                          **errors}}},
        "/ping": {"get": {"summary": "Liveness (200 once the model is loaded)", "responses": {"200": _ok("Ready")}}},
        "/health": {"get": {"summary": "Same as /ping", "responses": {"200": _ok("Ready")}}},
        "/version": {"get": {"summary": "The model version serving, the last load error",
                             "responses": {"200": _ok("Version info")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": _ok("Text exposition format")}}},
        "/feedback": {"post": {"summary": "Ground truth for served requests",
                               "requestBody": _json_body({"type": "object", "properties": {
                                   "request_id": {"type": "string"}, "label": {},
                                   "feedback": {"type": "array", "items": {"type": "object"}}}}),
                               "responses": {"200": _ok("Stored")}}},
        "/-/webhook": {"post": {"summary": "Registry webhook (model_version_alias.*): re-resolve the alias",
                                "responses": {"200": _ok("Accepted")}}},
        "/v2/health/live": {"get": {"summary": "OIP liveness", "responses": {"200": _ok("Live")}}},
        "/v2/health/ready": {"get": {"summary": "OIP readiness", "responses": {"200": _ok("Ready")}}},
        "/v2/models/{name}": {"get": {"summary": "OIP model metadata", "responses": {"200": _ok("Metadata")}}},
        "/v2/models/{name}/ready": {"get": {"summary": "OIP model readiness", "responses": {"200": _ok("Ready")}}},
        "/v2/models/{name}/infer": infer,
        "/v2/models/{name}/versions/{version}/infer": infer,
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": f"modelyard serving: {model.name}", "version": model.version},
        "paths": paths,
        "components": {"schemas": {"Record": record_schema(model)}},
    }


def _example(model: LoadedModel) -> Any:
    try:
        example = model.example_inputs()
    except Exception:  # noqa: BLE001 - an example is a nicety
        return None
    if example is None:
        return None
    if example.kind == "matrix":
        return {"dataframe_split": {"columns": model.reader.names, "data": example.data[:1].tolist()}}
    from .model import inputs_jsonable

    return {"inputs": inputs_jsonable(example, model.reader.names)}
