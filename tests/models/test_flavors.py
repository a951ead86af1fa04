"""The flavor table: lazy (no heavy import), detection, loaders for MLflow's formats."""

from __future__ import annotations

import subprocess
import sys

from modelyard.models import flavors


def test_importing_models_imports_no_ml_library():
    code = (
        "import sys, modelyard.models; "
        "print(sorted(m for m in ('torch', 'transformers', 'sklearn', 'skops', 'mlflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_loaders_cover_mlflow_flavors():
    assert flavors.LOADERS["mlflow.sklearn"].endswith(".sklearn")
    assert flavors.LOADERS["mlflow.transformers"].endswith(".transformers")
    assert flavors.LOADERS["mlflow.pyfunc.model"].endswith(".mlflow_pyfunc")
    assert flavors.loader_for(None, {"sklearn": {}}).FLAVOR_NAME == "sklearn"
    assert flavors.loader_for("mlflow.xgboost", {}) is None


def test_detect_prefers_the_specific_flavor():
    from sklearn.linear_model import LinearRegression

    class Plain:
        def predict(self, model_input):
            return model_input

    assert flavors.detect(LinearRegression()).FLAVOR_NAME == "sklearn"
    assert flavors.detect(Plain()).FLAVOR_NAME == "python_class"
