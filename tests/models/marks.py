"""Targeted filters for warnings that MLflow's own client raises while it saves or loads models."""

from __future__ import annotations

import pytest

mlflow_warnings = [
    # emitted while importing mlflow.pyfunc's pydantic type hints
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
    # MLflow's hint when an input example has integer columns
    pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer column:UserWarning"),
]
