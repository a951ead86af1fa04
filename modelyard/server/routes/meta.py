"""/health, /version and server-info."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ... import __version__
from ..protocol import JSONResponse


async def health(request: Request) -> Response:
    return PlainTextResponse("OK")


# The MLflow REST API level we serve: the official client switches features on by the version /version
# reports (span logging over OTLP needs 3.4 or later). Our own version is in the X-Modelyard-Version
# header and in server-info's "version".
MLFLOW_API_LEVEL = "3.17.2"


async def version(request: Request) -> Response:
    return PlainTextResponse(MLFLOW_API_LEVEL, headers={"X-Modelyard-Version": __version__})


async def server_info(request: Request) -> Response:
    return JSONResponse(
        {
            "store_type": "SqlStore",
            "workspaces_enabled": True,
            "trace_archival_enabled": False,
            "multipart_uploads_enabled": request.app.state.service.settings.serve_artifacts,
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "features_enabled": {"gateway": False},
            "server": "modelyard",
            "version": __version__,
            "mlflow_api_version": MLFLOW_API_LEVEL,
        }
    )


# Absolute paths.
ABSOLUTE_ROUTES = [
    ("/health", ["GET"], health),
    ("/version", ["GET"], version),
    ("/api/3.0/mlflow/server-info", ["GET"], server_info),
    ("/ajax-api/3.0/mlflow/server-info", ["GET"], server_info),
]
