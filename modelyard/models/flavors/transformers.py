"""Hugging Face Transformers: a pipeline, or a model with its tokenizer, in safetensors.

The layout and ``MLmodel`` section are MLflow's (``model/`` from
``save_pretrained``, ``components/tokenizer/``, ``task``, ``pipeline_model_type``…),
so ``mlflow.pyfunc.load_model`` reads what we write and we read what
``mlflow.transformers`` writes. Label maps (``id2label``/``label2id``) live in the
model config and come back with it. For text classification ``predict`` takes a
string, a list of strings, a Series or a DataFrame's text column, and returns a
DataFrame with ``label`` and ``score``, as MLflow's pyfunc does.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InvalidParameterValue
from ..environment import pyfunc_conf
from ..mlmodel import Model
from . import module_startswith

FLAVOR_NAME = "transformers"
MODEL_DIR = "model"
COMPONENTS_DIR = "components"
_COMPONENTS = ("tokenizer", "feature_extractor", "image_processor", "processor")
_TASK_BY_SUFFIX = {
    "ForSequenceClassification": "text-classification",
    "ForTokenClassification": "token-classification",
    "ForQuestionAnswering": "question-answering",
    "ForCausalLM": "text-generation",
    "ForMaskedLM": "fill-mask",
    "ForSeq2SeqLM": "text2text-generation",
}


def handles(model: Any) -> bool:
    if isinstance(model, dict):
        return "model" in model and module_startswith(model["model"], "transformers")
    return module_startswith(model, "transformers")


def as_pipeline(model: Any, tokenizer: Any = None, task: str | None = None) -> Any:
    """A ``transformers.Pipeline`` from a pipeline, a ``{"model", "tokenizer"}`` dict, or a model."""
    import transformers

    if isinstance(model, transformers.Pipeline):
        return model
    if isinstance(model, dict):
        tokenizer = model.get("tokenizer", tokenizer)
        task = model.get("task", task)
        model = model["model"]
    task = task or _infer_task(model)
    # transformers' overloads take only a Literal task name and have no plain-str fallback
    return transformers.pipeline(task=task, model=model, tokenizer=tokenizer)  # type: ignore[call-overload]


def _infer_task(model: Any) -> str:
    name = type(model).__name__
    for suffix, task in _TASK_BY_SUFFIX.items():
        if name.endswith(suffix):
            return task
    raise InvalidParameterValue(f"Cannot tell the task of a {name}: pass task='...' (e.g. 'text-classification').")


class TransformersPredictor:
    def __init__(self, pipeline: Any) -> None:
        self.raw_model = pipeline
        self.task = getattr(pipeline, "task", None)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        texts = _texts(data)
        out = self.raw_model(texts, **(params or {}))
        if self.task in ("text-classification", "sentiment-analysis"):
            rows = [r[0] if isinstance(r, list) else r for r in out]
            return pd.DataFrame({"label": [r["label"] for r in rows], "score": [float(r["score"]) for r in rows]})
        return out


def _texts(data: Any) -> Any:
    if isinstance(data, str):
        return [data]
    if isinstance(data, pd.DataFrame):
        column = "text" if "text" in data.columns else next(
            (c for c in data.columns if data[c].map(lambda v: isinstance(v, str)).all()), None
        )
        if column is None:
            raise InvalidParameterValue("The DataFrame has no text column: name it 'text'.")
        return data[column].tolist()
    if isinstance(data, (pd.Series, np.ndarray)):
        return list(data.tolist())
    if isinstance(data, dict):
        for key in ("text", "inputs"):
            if key in data:
                return _texts(data[key])
    return data


def wrap(model: Any, tokenizer: Any = None, task: str | None = None, **_: Any) -> TransformersPredictor:
    return TransformersPredictor(as_pipeline(model, tokenizer, task))


def save(model: Any, path: str, meta: Model, tokenizer: Any = None, task: str | None = None, **_: Any) -> list[str]:
    import transformers

    pipe = as_pipeline(model, tokenizer, task)
    hf_model = pipe.model
    kwargs = {"safe_serialization": True} if "safe_serialization" in inspect.signature(hf_model.save_pretrained).parameters else {}
    hf_model.save_pretrained(os.path.join(path, MODEL_DIR), **kwargs)
    conf: dict[str, Any] = {
        "task": pipe.task,
        "instance_type": type(pipe).__name__,
        "pipeline_model_type": type(hf_model).__name__,
        "source_model_name": getattr(hf_model.config, "_name_or_path", None) or getattr(hf_model, "name_or_path", None),
        "model_binary": MODEL_DIR,
        "framework": "pt",
        "torch_dtype": str(getattr(hf_model, "dtype", "torch.float32")),
        "transformers_version": transformers.__version__,
        "code": None,
        "components": [],
    }
    for name in _COMPONENTS:
        component = getattr(pipe, name, None)
        if component is not None and hasattr(component, "save_pretrained"):
            component.save_pretrained(os.path.join(path, COMPONENTS_DIR, name))
            conf["components"].append(name)
            conf[f"{name}_type"] = type(component).__name__
    meta.add_flavor("python_function", **pyfunc_conf("mlflow.transformers"))
    meta.add_flavor(FLAVOR_NAME, **conf)
    return ["transformers", "torch", "safetensors", "accelerate"]


def load(path: str, meta: Model, **_: Any) -> TransformersPredictor:
    import transformers

    conf = meta.flavors.get(FLAVOR_NAME) or {}
    if "source_model_revision" in conf:
        raise InvalidParameterValue(
            "This Transformers model was saved as a reference to the Hugging Face Hub, without its "
            "weights: save it with its weights (save_pretrained=True) to load it here."
        )
    model_dir = os.path.join(path, conf.get("model_binary", MODEL_DIR))
    model_cls = getattr(transformers, str(conf.get("pipeline_model_type")), None) or transformers.AutoModel
    hf_model = model_cls.from_pretrained(model_dir)
    components: dict[str, Any] = {}
    for name in conf.get("components", []):
        cls_name = conf.get(f"{name}_type")
        auto = {"tokenizer": "AutoTokenizer", "feature_extractor": "AutoFeatureExtractor",
                "image_processor": "AutoImageProcessor", "processor": "AutoProcessor"}[name]
        cls = getattr(transformers, str(cls_name), None) or getattr(transformers, auto)
        components[name] = cls.from_pretrained(os.path.join(path, COMPONENTS_DIR, name))
    pipe = transformers.pipeline(task=conf["task"], model=hf_model, **components)
    return TransformersPredictor(pipe)


def _load_pyfunc(path: str) -> TransformersPredictor:
    """For a ``loader_module`` pointing here (our files use ``mlflow.transformers`` instead)."""
    return load(path, Model.load(path))  # safetensors and JSON only: nothing to ask a TrustPolicy
