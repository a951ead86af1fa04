"""Open Inference Protocol v2 (KServe / Triton / MLServer) over the same model and batcher.

``GET /v2`` · ``/v2/health/live`` · ``/v2/health/ready`` · ``/v2/models/{name}[/versions/{v}]``
· ``.../ready`` · ``POST /v2/models/{name}[/versions/{v}]/infer``.

A request's ``inputs`` are either one tensor per input column (``shape [n]`` or
``[n, 1]``; the MLServer pandas convention) or, for a tensor signature or a
single ``[n, columns]`` input, the model's input tensor. Errors are
``{"error": "..."}`` with status 400 (bad input) or 404 (unknown model/version).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import pandas as pd
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import ModelyardError, ResourceDoesNotExist
from ..models.enforce import SchemaError
from .inputs import Inputs
from .model import LoadedModel, jsonable

if TYPE_CHECKING:
    from .app import ModelServer

_encode = msgspec.json.Encoder().encode
JSON = "application/json"
DATATYPES = {"BOOL": "bool", "UINT8": "uint8", "UINT16": "uint16", "UINT32": "uint32", "UINT64": "uint64",
             "INT8": "int8", "INT16": "int16", "INT32": "int32", "INT64": "int64", "FP16": "float16",
             "FP32": "float32", "FP64": "float64", "BYTES": "object"}
_NP_TO_V2 = {"b": "BOOL", "i": "INT64", "u": "UINT64", "f": "FP64", "U": "BYTES", "O": "BYTES", "S": "BYTES"}


class InferInput(msgspec.Struct):
    name: str
    shape: list[int]
    datatype: str
    data: Any
    parameters: dict[str, Any] | None = None


class InferRequest(msgspec.Struct):
    inputs: list[InferInput]
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: list[dict[str, Any]] | None = None


def read_infer(model: LoadedModel, body: bytes) -> tuple[InferRequest, Inputs]:
    try:
        req = msgspec.json.decode(body, type=InferRequest)
    except msgspec.ValidationError as exc:
        raise SchemaError(f"Invalid inference request: {exc}.") from None
    except msgspec.DecodeError as exc:
        raise SchemaError(f"Malformed JSON in request body: {exc}.") from None
    if not req.inputs:
        raise SchemaError("'inputs' must list at least one input tensor.")
    reader = model.reader
    arrays = {i.name: _array(i, f"inputs[{n}]") for n, i in enumerate(req.inputs)}
    if reader.names:
        if len(arrays) == 1 and next(iter(arrays.values())).ndim == 2 and reader.names[0] not in arrays:
            matrix = next(iter(arrays.values()))
            if reader.fast and matrix.dtype.kind in "iuf" and matrix.shape[1] == len(reader.names):
                return req, Inputs("matrix", matrix.astype(np.float64, copy=False), matrix.shape[0])
            if reader.fast:
                return req, reader.from_instances(matrix.tolist(), "inputs[0].data")
            return req, reader.from_frame(pd.DataFrame(matrix, columns=reader.names))
        missing = [n for n in reader.names if n not in arrays]
        if missing and reader.fast:
            raise SchemaError(f"Missing input tensors {missing}: expected one per column {reader.names}.")
        columns = {k: (v.reshape(-1) if v.ndim == 2 and v.shape[1] == 1 else v) for k, v in arrays.items()}
        if reader.fast:
            for k, v in columns.items():
                if v.dtype.kind not in "iuf" and k in reader.names:
                    raise SchemaError(f"column {k!r}: expected double, got {v.dtype}.")
            matrix = np.column_stack([columns[n] for n in reader.names]).astype(np.float64)
            return req, Inputs("matrix", matrix, matrix.shape[0])
        return req, reader.from_frame(pd.DataFrame(columns))
    if reader.tensor is not None or len(arrays) == 1:
        return req, reader.from_instances(next(iter(arrays.values())), "inputs[0].data")
    return req, reader.from_instances(arrays, "inputs")


def _array(i: InferInput, where: str) -> np.ndarray:
    dtype = DATATYPES.get(i.datatype.upper())
    if dtype is None:
        raise SchemaError(f"'{where}.datatype': unknown datatype {i.datatype!r}; use one of {sorted(DATATYPES)}.")
    try:
        arr = np.asarray(i.data, dtype=dtype)
        return arr.reshape(i.shape) if i.shape else arr
    except (ValueError, TypeError) as exc:
        raise SchemaError(f"'{where}' ({i.name!r}): data does not fit shape {i.shape} and {i.datatype}: {exc}") from None


def infer_response(model: LoadedModel, req_id: str, pred: Any) -> dict[str, Any]:
    outputs = []
    if isinstance(pred, pd.DataFrame):
        items = [(str(c), pred[c].to_numpy()) for c in pred.columns]
    elif isinstance(pred, dict):
        items = [(str(k), np.asarray(v)) for k, v in pred.items()]
    else:
        items = [("predict", np.asarray(pred))]
    for name, arr in items:
        outputs.append({"name": name, "shape": list(arr.shape), "datatype": _NP_TO_V2.get(arr.dtype.kind, "BYTES"),
                        "data": jsonable(arr.reshape(-1))})
    return {"model_name": model.name, "model_version": model.version, "id": req_id, "parameters": {},
            "outputs": outputs}


def oip_routes(server: ModelServer) -> list[Route]:
    def error(message: str, status: int) -> Response:
        return Response(_encode({"error": message}), status, media_type=JSON)

    def resolve(request: Request) -> LoadedModel:
        model = server.model
        name = request.path_params.get("name")
        version = request.path_params.get("version")
        if name is not None and name != model.name:
            raise ResourceDoesNotExist(f"Model {name!r} is not served here (serving {model.name!r}).")
        if version is not None and version != model.version:
            raise ResourceDoesNotExist(f"Version {version!r} of {name!r} is not loaded (serving {model.version}).")
        return model

    async def live(request: Request) -> Response:
        return Response(_encode({"live": True}), media_type=JSON)

    async def ready(request: Request) -> Response:
        ok = server.holder.current is not None
        return Response(_encode({"ready": ok}), 200 if ok else 503, media_type=JSON)

    async def server_meta(request: Request) -> Response:
        from .. import __version__

        return Response(_encode({"name": "modelyard", "version": __version__, "extensions": []}), media_type=JSON)

    async def model_meta(request: Request) -> Response:
        try:
            model = resolve(request)
        except ModelyardError as exc:
            return error(exc.message, exc.status)
        from .openapi import v2_inputs

        meta = {"name": model.name, "versions": [model.version], "platform": ",".join(sorted(model.pyfunc.flavors)),
                "inputs": v2_inputs(model), "outputs": [{"name": "predict", "datatype": "FP64", "shape": [-1]}]}
        return Response(_encode(meta), 200, server.headers(model, None), JSON)

    async def model_ready(request: Request) -> Response:
        try:
            model = resolve(request)
        except ModelyardError as exc:
            return error(exc.message, exc.status)
        return Response(_encode({"name": model.name, "ready": True}), 200, server.headers(model, None), JSON)

    async def infer(request: Request) -> Response:
        t0 = time.perf_counter()
        request_id = server.request_id(request.headers.get("x-request-id"))
        model = None
        try:
            model = resolve(request)
            req, inputs = read_infer(model, await server.body(request))
            if req.id:
                request_id = req.id[:64]
            pred = await server.predict(model, inputs, req.parameters or None)
            content, status = _encode(infer_response(model, request_id, pred)), 200
        except ModelyardError as exc:
            content, status = _encode({"error": exc.message}), exc.status
        except Exception as exc:  # noqa: BLE001 - the model refused this input
            content, status = _encode({"error": f"The model could not predict on this input: {exc}"}), 400
        seconds = time.perf_counter() - t0
        server.metrics.observe("v2_infer", status, seconds)
        if status == 200:
            server.record(request_id, model, inputs, pred, seconds)  # type: ignore[arg-type]
        return Response(content, status, server.headers(model, request_id), JSON)

    base = "/v2/models/{name}"
    return [
        Route("/v2", server_meta, methods=["GET"]),
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route(base, model_meta, methods=["GET"]),
        Route(base + "/versions/{version}", model_meta, methods=["GET"]),
        Route(base + "/ready", model_ready, methods=["GET"]),
        Route(base + "/versions/{version}/ready", model_ready, methods=["GET"]),
        Route(base + "/infer", infer, methods=["POST"]),
        Route(base + "/versions/{version}/infer", infer, methods=["POST"]),
    ]
