"""``POST /api/2.0/modelyard/pipelines/triggers/fire``: the HTTP trigger, authenticated by its own token.

The trigger's token comes in ``Authorization: Bearer TOKEN`` (or the body's ``token``), not the
caller's credentials, so it is not an operation of the table (:mod:`modelyard.api.pipelines`):
the pipelines API's other calls are.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ...api.schemas_pipelines import FireTrigger
from ...service import TrackingService
from ..protocol import JSONResponse, accepts, decode_body, read_body


@accepts(FireTrigger)
async def fire(request: Request) -> Response:
    """Fire a trigger; authenticated by the trigger's own token."""
    service: TrackingService = request.app.state.service
    limit = service.settings.max_request_bytes
    req = decode_body(await read_body(request, limit), FireTrigger, limit)
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else req.token
    out = await run_in_threadpool(
        service.pipelines.fire_trigger, req.name, req.payload, req.dedupe_key, token, authenticate=True
    )
    return JSONResponse(out)


EXTENSION_ROUTES = [
    ("/pipelines/triggers/fire", ["POST"], fire),
]
