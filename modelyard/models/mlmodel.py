"""The ``MLmodel`` file: the metadata MLflow and modelyard both read.

A model directory holds ``MLmodel`` (YAML: flavors, signature, input example
info, ids and times) beside the flavor's files, ``requirements.txt``,
``python_env.yaml`` and ``conda.yaml``.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import ResourceDoesNotExist
from .signature import ModelSignature

MLMODEL_FILE = "MLmodel"
PYFUNC = "python_function"

_KNOWN = {
    "flavors", "signature", "saved_input_example_info", "model_uuid", "utc_time_created",
    "run_id", "artifact_path", "model_id", "mlflow_version", "modelyard_version", "metadata",
    "model_size_bytes", "is_signature_from_type_hint", "type_hint_from_example",
}


def _now() -> str:
    return str(datetime.now(timezone.utc).replace(tzinfo=None))


@dataclass
class Model:
    """The contents of an ``MLmodel`` file; unknown keys survive a round trip in ``extra``."""

    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    model_uuid: str | None = field(default_factory=lambda: uuid.uuid4().hex)
    utc_time_created: str = field(default_factory=_now)
    run_id: str | None = None
    artifact_path: str | None = None
    model_id: str | None = None
    mlflow_version: str | None = None
    modelyard_version: str | None = None
    metadata: dict[str, Any] | None = None
    model_size_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def add_flavor(self, name: str, **conf: Any) -> Model:
        self.flavors[name] = conf
        return self

    @property
    def pyfunc_conf(self) -> dict[str, Any] | None:
        return self.flavors.get(PYFUNC)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"flavors": self.flavors}
        for key in ("run_id", "artifact_path", "model_id", "mlflow_version", "modelyard_version",
                    "metadata", "model_size_bytes", "saved_input_example_info"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["model_uuid"] = self.model_uuid
        out["utc_time_created"] = self.utc_time_created
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
            out["is_signature_from_type_hint"] = False
            out["type_hint_from_example"] = False
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        sig = data.get("signature")
        return cls(
            flavors=dict(data.get("flavors") or {}),
            signature=ModelSignature.from_dict(sig) if isinstance(sig, dict) else None,
            saved_input_example_info=data.get("saved_input_example_info"),
            model_uuid=data.get("model_uuid"),
            utc_time_created=str(data.get("utc_time_created") or ""),
            run_id=data.get("run_id"),
            artifact_path=data.get("artifact_path"),
            model_id=data.get("model_id"),
            mlflow_version=data.get("mlflow_version"),
            modelyard_version=data.get("modelyard_version"),
            metadata=data.get("metadata"),
            model_size_bytes=data.get("model_size_bytes"),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )

    def save(self, model_dir: str) -> None:
        import yaml

        with open(os.path.join(model_dir, MLMODEL_FILE), "w", encoding="utf-8") as fh:
            yaml.safe_dump(self.to_dict(), fh, default_flow_style=False)

    @classmethod
    def load(cls, model_dir: str) -> Model:
        import yaml

        path = model_dir if os.path.basename(model_dir) == MLMODEL_FILE else os.path.join(model_dir, MLMODEL_FILE)
        if not os.path.isfile(path):
            raise ResourceDoesNotExist(f"No {MLMODEL_FILE} file in {os.path.dirname(path)!r}: not a saved model.")
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        return cls.from_dict(data)

    def tag_entry(self) -> dict[str, Any]:
        """This model's entry in the ``mlflow.log-model.history`` run tag, as MLflow writes it."""
        return {
            "run_id": self.run_id,
            "artifact_path": self.artifact_path,
            "utc_time_created": self.utc_time_created,
            "model_uuid": self.model_uuid,
            "flavors": {name: {k: v for k, v in conf.items() if k != "config"} for name, conf in self.flavors.items()},
        }


def directory_size(path: str) -> int:
    return sum(
        os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files
    )
