"""Model URIs → a local model directory.

``runs:/<run_id>/<path>``, ``models:/<name>/<version>``, ``models:/<name>/latest``,
``models:/<name>/<stage>``, ``models:/<name>@<alias>``, ``models:/<model_id>``
(an MLflow 3 logged model), ``file:///path`` and plain local paths.
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any
from urllib.parse import unquote, urlparse

from ..errors import InvalidParameterValue, ModelyardError, ResourceDoesNotExist

_REGISTRY_REF = re.compile(r"^(?:models?:/*)?([\w.-]+)[@:]([\w.-]+)$")
_SCHEME = re.compile(r"^models?:/*")
_STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """``runs:/RUN_ID/a/b`` → ``("RUN_ID", "a/b")``."""
    rest = uri[len("runs:"):].lstrip("/")
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidParameterValue(f"Malformed runs URI {uri!r}: expected runs:/<run_id>/<path>.")
    return run_id, path.strip("/")


def download_model(uri: str, dst_path: str | None = None, client: Any = None) -> str:
    """The local directory holding the model at ``uri`` (downloaded first when remote)."""
    uri = str(uri)
    scheme = urlparse(uri).scheme
    if scheme == "file":
        return _local(unquote(urlparse(uri).path))
    if _mistyped_registry_ref(uri):
        raise InvalidParameterValue(f"{uri!r} is neither a model URI nor a file or folder here.{registry_hint(uri)}")
    if len(scheme) <= 1:  # a plain path (or a Windows drive letter)
        return _local(uri)
    client = client or _default_client()
    dest = dst_path or tempfile.mkdtemp(prefix="modelyard-model-")
    if uri.startswith("runs:"):
        run_id, path = parse_runs_uri(uri)
        return str(client.download_artifacts(run_id, path, dest))
    if uri.startswith("models:"):
        return download_model(model_source(uri, client), dest, client)
    return _download_artifact_uri(uri, dest, client)


def model_source(uri: str, client: Any) -> str:
    """Where ``models:/...`` points: a model version's download URI, or a logged model's artifacts."""
    rest = uri[len("models:"):].lstrip("/")
    if ("@" in rest or "/" in rest) and hasattr(client, "resolve_model_version"):
        return _version_uri(client, client.resolve_model_version(uri))
    if "@" in rest:
        name, _, alias = rest.partition("@")
        mv = _call(client, "get_model_version_by_alias", name, alias)
        return _version_uri(client, mv)
    if "/" in rest:
        name, _, ref = rest.rpartition("/")
        if ref.isdigit():
            mv = _call(client, "get_model_version", name, ref)
        else:
            stages = None if ref.lower() == "latest" else [_STAGES.get(ref.lower(), ref)]
            found = _call(client, "get_latest_versions", name, stages=stages)
            if not found:
                raise ResourceDoesNotExist(f"No version of registered model {name!r} matches {ref!r}.")
            mv = max(found, key=lambda v: int(v.version))
        return _version_uri(client, mv)
    if not rest or ":" in rest:  # a logged model's id has no colon: models:/NAME:ALIAS was meant
        raise InvalidParameterValue(f"Malformed models URI {uri!r}.{registry_hint(rest)}")
    logged = _call(client, "get_logged_model", rest)
    return str(logged.artifact_location)


def _version_uri(client: Any, mv: Any) -> str:
    source = str(getattr(mv, "source", "") or "")
    if source.startswith(("runs:", "models:")):
        return source
    if hasattr(client, "get_model_version_download_uri"):
        return str(client.get_model_version_download_uri(mv.name, mv.version))
    return source


def _call(client: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    fn = getattr(client, method, None)
    if fn is None:
        raise ModelyardError(f"This client has no {method}(): the model registry is not available.")
    return fn(*args, **kwargs)


def _mistyped_registry_ref(uri: str) -> bool:
    """``churn@champion``, ``churn:3``, ``model:/churn@champion``, ``models:/churn:champion``: a registry reference
    written another way (and no such file here)."""
    if _REGISTRY_REF.match(uri) is None or os.path.exists(uri):
        return False
    return not (uri.startswith("models:") and "@" in uri)


def registry_hint(text: str) -> str:
    """`` For ... write models:/NAME@ALIAS.`` when ``text`` looks like a registry reference typed another way."""
    bare = _SCHEME.sub("", text)
    if bare != text and bare and not re.search(r"[@:/]", bare):  # models:churn
        return f" For a registered model write models:/{bare}@ALIAS or models:/{bare}/VERSION."
    m = _REGISTRY_REF.match(text)
    if m is None:
        if text and os.sep not in text and "/" not in text:
            return f" For a registered model write models:/{text}@ALIAS or models:/{text}/VERSION."
        return " Write models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/PATH."
    name, ref = m.groups()
    if ref.isdigit():
        return f" For version {ref} of registered model {name!r} write models:/{name}/{ref}."
    return f" For registered model {name!r} at alias {ref!r} write models:/{name}@{ref}."


def _local(path: str) -> str:
    given = path
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(path):
        if os.sep in given or "/" in given:
            raise ResourceDoesNotExist(f"No model at {path!r}.")
        raise ResourceDoesNotExist(f"No model file or folder named {given!r} here.{registry_hint(given)}")
    return path


def _download_artifact_uri(uri: str, dest: str, client: Any) -> str:
    """Any artifact URI the client's transport understands (``mlflow-artifacts:``, ``s3://``…)."""
    download = getattr(client, "download_artifacts_from_uri", None)
    if download is not None:
        return str(download(uri, dest))
    repo = client._t.artifact_repository(uri)  # until Client offers download_artifacts_from_uri
    return str(repo.download("", dest))


def _default_client() -> Any:
    from ..client.fluent import get_client

    return get_client()
