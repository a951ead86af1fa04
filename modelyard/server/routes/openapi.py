"""/openapi.json: the OpenAPI document of every route this app declares (see :mod:`..openapi`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ... import __version__
from .. import openapi
from ..protocol import JSONResponse


async def document(request: Request) -> Response:
    """Built once per app, from the routes it was assembled with."""
    state = request.app.state
    built = getattr(state, "openapi_document", None)
    if built is None:
        built = state.openapi_document = JSONResponse(openapi.build(request.app.routes, "modelyard", __version__)).body
    return Response(built, media_type="application/json")


ABSOLUTE_ROUTES = [
    ("/openapi.json", ["GET"], document),
]
