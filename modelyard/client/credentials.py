"""What the SDK's HTTP client sends to prove who it is, read as MLflow's client reads it.

Order, as in MLflow: a user name and password (HTTP Basic) win over a token
(``Authorization: Bearer``). Each comes from ``MODELYARD_TRACKING_<NAME>``,
else ``MLFLOW_TRACKING_<NAME>`` (the tracking URI's precedence), and the user
name and password else from MLflow's ``~/.mlflow/credentials``; a URI with
user info (``http://user:pass@host``) names the user and password itself.
``MLFLOW_TRACKING_INSECURE_TLS=true`` skips certificate checks,
``MLFLOW_TRACKING_SERVER_CERT_PATH`` names a CA bundle and
``MLFLOW_TRACKING_CLIENT_CERT_PATH`` a client certificate (same prefixes).
The workspace names resolve in is read on every call (:func:`workspace`), as MLflow's client does.
"""

from __future__ import annotations

import configparser
import os
import ssl
import urllib.parse
from collections.abc import Generator
from dataclasses import dataclass

import httpx

from ..errors import InvalidParameterValue


def _env(name: str) -> str | None:
    return os.environ.get(f"MODELYARD_TRACKING_{name}") or os.environ.get(f"MLFLOW_TRACKING_{name}") or None


def _credentials_file() -> tuple[str | None, str | None]:
    """User name and password from MLflow's ``~/.mlflow/credentials`` (section ``[mlflow]``), if any."""
    path = os.path.expanduser("~/.mlflow/credentials")
    if not os.path.exists(path):
        return None, None
    config = configparser.ConfigParser()
    config.read(path)
    if "mlflow" not in config:
        return None, None
    section = config["mlflow"]
    return section.get("mlflow_tracking_username"), section.get("mlflow_tracking_password")


@dataclass(frozen=True)
class Connection:
    """A server's address without user info, and how to authenticate and verify it."""

    base_url: str
    auth: httpx.Auth | None
    verify: ssl.SSLContext | bool


def connection(url: str) -> Connection:
    """Split credentials out of ``url`` and add those of the environment."""
    parts = urllib.parse.urlsplit(url)
    file_user, file_password = _credentials_file()
    username, password = _env("USERNAME") or file_user, _env("PASSWORD") or file_password
    if parts.username is not None or parts.password is not None:
        username = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        netloc = parts.netloc.rpartition("@")[2]
        url = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    auth: httpx.Auth | None = None
    if username and password:
        auth = httpx.BasicAuth(username, password)
    elif token := _env("TOKEN"):
        auth = BearerAuth(token)
    insecure = (_env("INSECURE_TLS") or "false").strip().lower()
    if insecure not in ("true", "false", "1", "0"):
        raise InvalidParameterValue(
            f"MLFLOW_TRACKING_INSECURE_TLS must be 'true' or 'false', not {insecure!r}.")
    server_cert = _env("SERVER_CERT_PATH")
    if insecure in ("true", "1") and server_cert:
        raise InvalidParameterValue(
            "MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH cannot both be set: unset one.")
    verify: ssl.SSLContext | bool = insecure not in ("true", "1")
    client_cert = _env("CLIENT_CERT_PATH")
    if server_cert or client_cert:
        context = ssl.create_default_context(cafile=server_cert)
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if client_cert:
            context.load_cert_chain(client_cert)
        verify = context
    return Connection(url.rstrip("/"), auth, verify)


WORKSPACE_HEADER = "X-MLFLOW-WORKSPACE"


def workspace() -> str | None:
    """The workspace names are resolved in: ``MODELYARD_WORKSPACE``, else MLflow's ``MLFLOW_WORKSPACE`` (what
    ``mlflow.set_workspace`` sets); None: the default one. Read on every call, so a client made before the
    variable changed follows it, as MLflow's does (sent as ``X-MLFLOW-WORKSPACE``; in process, set as the
    call's workspace)."""
    return (os.environ.get("MODELYARD_WORKSPACE") or os.environ.get("MLFLOW_WORKSPACE") or "").strip() or None


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>`` on every request."""

    def __init__(self, token: str) -> None:
        self.header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.header
        yield request
