"""log_model(..., reference_data=df): the profile travels with the model and becomes the version's reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modelyard as my
from modelyard.errors import InvalidParameterValue

sklearn = pytest.importorskip("sklearn.linear_model")


def test_reference_data_is_profiled_and_stored_with_the_version(tmp_path: Path) -> None:
    my.set_tracking_uri(str(tmp_path / "store"))
    try:
        rng = np.random.default_rng(0)
        X = pd.DataFrame({"age": rng.normal(40, 10, 300), "income": rng.normal(50, 5, 300)})
        y = (X["age"] > 40).astype(int)
        clf = sklearn.LogisticRegression().fit(X, y)
        with my.start_run():
            with pytest.raises(InvalidParameterValue, match="at least 100 rows"):
                my.models.log_model(clf, "model", input_example=X[:5], reference_data=X[:5],
                                    registered_model_name="churn")
            info = my.models.log_model(clf, "model", input_example=X[:5], reference_data=X,
                                       registered_model_name="churn")
        c = my.Client()
        assert info.registered_model_version == 1  # the refused call registered nothing
        prof = c.get_reference_profile("churn", 1)
        assert prof["rows"] == 300 and [col["name"] for col in prof["columns"]] == ["age", "income"]
        files = [f.path for f in c.list_artifacts(info.run_id, "model")]
        assert "model/reference_profile.json" in files
    finally:
        my.set_tracking_uri(None)
