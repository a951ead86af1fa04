"""Save, log and load models in the MLflow model format, without MLflow.

>>> import modelyard as my
>>> with my.start_run():
...     info = my.models.log_model(clf, "model", input_example=X[:5], registered_model_name="churn")
>>> model = my.models.load_model("models:/churn@champion")
>>> model.predict(X[:5])

Flavors: ``sklearn`` (skops), ``pytorch`` (safetensors or TorchScript),
``transformers`` (safetensors; a pipeline or model + tokenizer) and
``python_model`` (a class with ``predict``, saved as class reference + state).
Models saved by MLflow's sklearn, transformers, pytorch and python-model flavors load too.
Pickled models load with an :class:`UnsafeSerializationWarning` (``modelyard serve``
refuses them unless allowed) and skops types load only when trusted: see :mod:`.trust`.
"""

from .enforce import SchemaError as SchemaError
from .flavors import UnsafeSerializationWarning as UnsafeSerializationWarning
from .lineage import DatasetLineage as DatasetLineage
from .lineage import ModelLineage as ModelLineage
from .lineage import RunLineage as RunLineage
from .lineage import lineage as lineage
from .mlmodel import Model as Model
from .packaging import ModelInfo as ModelInfo
from .packaging import load_model as load_model
from .packaging import log_model as log_model
from .packaging import register_model as register_model
from .packaging import save_model as save_model
from .pyfunc import PyFuncModel as PyFuncModel
from .signature import ColSpec as ColSpec
from .signature import ModelSignature as ModelSignature
from .signature import Schema as Schema
from .signature import TensorSpec as TensorSpec
from .signature import infer_schema as infer_schema
from .signature import infer_signature as infer_signature
from .uri import download_model as download_model

__all__ = [
    "ColSpec",
    "DatasetLineage",
    "Model",
    "ModelInfo",
    "ModelLineage",
    "ModelSignature",
    "PyFuncModel",
    "RunLineage",
    "Schema",
    "SchemaError",
    "TensorSpec",
    "UnsafeSerializationWarning",
    "download_model",
    "infer_schema",
    "infer_signature",
    "lineage",
    "load_model",
    "log_model",
    "register_model",
    "save_model",
]
