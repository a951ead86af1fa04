"""Deployment files for a served model: a Dockerfile, and Kubernetes Deployment + Service manifests.

The image installs the model's own pinned ``requirements.txt`` (plus modelyard
and the serving extras) and runs ``modelyard serve``. A registry URI
(``models:/name@alias``) is resolved at run time, so the container follows the
alias (give it ``MODELYARD_TRACKING_URI``); a local model is copied into the
image. The probes use ``/v2/health/live`` and ``/v2/health/ready``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any

import yaml

from ..models.environment import pinned, read_requirements
from .model import LoadedModel

PORT = 8080
MODEL_DIR = "/opt/modelyard/model"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:50] or "model"


def serve_command(model_uri: str, port: int = PORT) -> list[str]:
    return ["modelyard", "serve", model_uri, "--host", "0.0.0.0", "--port", str(port)]


def export_docker(model: LoadedModel, model_uri: str, out_dir: str, tracking_uri: str | None = None) -> list[str]:
    """Write ``Dockerfile``, ``requirements.txt`` (and ``model/`` for a local model) into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    requirements = [r for r in read_requirements(model.pyfunc.path) if not r.startswith("modelyard")]
    extras = [pinned(p) for p in ("modelyard", "prometheus-client", "pyarrow", "uvicorn", "httptools", "uvloop")]
    lines = list(dict.fromkeys([*extras, *requirements]))
    with open(os.path.join(out_dir, "requirements.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    written = ["Dockerfile", "requirements.txt"]
    uri = model_uri
    copy = ""
    if not model_uri.startswith(("models:", "runs:")):  # a path: ship the files
        shutil.copytree(model.pyfunc.path, os.path.join(out_dir, "model"), dirs_exist_ok=True)
        uri = MODEL_DIR
        copy = f"COPY model/ {MODEL_DIR}/\n"
        written.append("model/")
    env = ""
    if tracking_uri and tracking_uri.startswith(("http://", "https://")):
        env = f"ENV MODELYARD_TRACKING_URI={tracking_uri}\n"
    python = ".".join(str(model.pyfunc.metadata.flavors.get("python_function", {}).get("python_version", "3.11"))
                      .split(".")[:2])
    dockerfile = (
        f"# modelyard serve {model_uri} (version {model.version} when exported)\n"
        f"FROM python:{python}-slim\n"
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1\n"
        "WORKDIR /opt/modelyard\n"
        "COPY requirements.txt ./\n"
        "RUN pip install -r requirements.txt\n"
        f"{copy}{env}"
        "RUN useradd --create-home --uid 10001 modelyard\n"
        "USER modelyard\n"
        f"EXPOSE {PORT}\n"
        "HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 "
        f"CMD [\"python\", \"-c\", \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/ping')\"]\n"
        f"CMD {json.dumps(serve_command(uri))}\n"
    )
    with open(os.path.join(out_dir, "Dockerfile"), "w", encoding="utf-8") as fh:
        fh.write(dockerfile)
    return written


def k8s_manifests(model: LoadedModel, image: str | None = None, tracking_uri: str | None = None,
                  replicas: int = 2) -> list[dict[str, Any]]:
    name = _slug(f"{model.name}-serving")
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "modelyard"}
    env = [{"name": "MODELYARD_TRACKING_URI", "value": tracking_uri}] if tracking_uri else []

    def probe(path: str, delay: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": "http"}, "initialDelaySeconds": delay, "periodSeconds": 10,
                "timeoutSeconds": 3, "failureThreshold": 3}

    container: dict[str, Any] = {
        "name": "model",
        "image": image or f"{_slug(model.name)}-serving:{_slug(model.version)}",
        "ports": [{"name": "http", "containerPort": PORT}],
        "readinessProbe": probe("/v2/health/ready", 5),
        "livenessProbe": probe("/v2/health/live", 15),
        "startupProbe": {**probe("/ping", 0), "failureThreshold": 30},
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
    }
    if env:
        container["env"] = env
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": {
                    "prometheus.io/scrape": "true", "prometheus.io/port": str(PORT), "prometheus.io/path": "/metrics"}},
                "spec": {"containers": [container]},
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    }
    return [deployment, service]


def export_k8s(model: LoadedModel, out_dir: str, image: str | None = None, tracking_uri: str | None = None) -> list[str]:
    """Write ``deployment.yaml`` and ``service.yaml`` into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    deployment, service = k8s_manifests(model, image, tracking_uri)
    for file, doc in (("deployment.yaml", deployment), ("service.yaml", service)):
        with open(os.path.join(out_dir, file), "w", encoding="utf-8") as fh:
            yaml.safe_dump(doc, fh, sort_keys=False)
    return ["deployment.yaml", "service.yaml"]
