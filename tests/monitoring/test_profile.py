"""Reference profiles: kinds, categories with an "other" bucket, text statistics, quality checks from them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelyard.errors import InvalidParameterValue
from modelyard.monitoring import DataQualityFailed, assert_quality, check_quality, drift_report, profile
from modelyard.monitoring.profile import MAX_CATEGORIES


def test_kinds_missing_values_and_the_other_bucket() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "age": np.where(rng.random(1000) < 0.1, np.nan, rng.normal(40, 10, 1000)),
        "city": [f"c{int(i)}" for i in rng.zipf(1.3, 1000) % 2000],
        "flag": rng.random(1000) < 0.5,
        "review": [" ".join(rng.choice(["good", "bad", "fine", "slow", "fast", "great"], 8)) + f" {i}" for i in range(1000)],
    })
    p = json.loads(json.dumps(profile(df)))  # JSON round trip, as stored
    cols = {c["name"]: c for c in p["columns"]}
    assert [c["kind"] for c in p["columns"]] == ["numeric", "categorical", "categorical", "text"]
    assert cols["age"]["missing"] == int(df["age"].isna().sum()) and len(cols["age"]["quantiles"]) == 1001
    city = cols["city"]
    assert len(city["categories"]) == min(MAX_CATEGORIES, city["distinct"])
    assert sum(city["categories"].values()) + city["other"] == 1000
    assert cols["flag"]["categories"].keys() == {"True", "False"}
    text = cols["review"]
    assert text["tokens"]["mean"] == pytest.approx(9) and "good" in text["vocabulary"]


def test_kinds_can_be_overridden_and_are_checked() -> None:
    df = {"zip": [str(10000 + i % 50) for i in range(300)], "n": list(range(300))}
    assert profile(df, kinds={"n": "categorical"})["columns"][1]["kind"] == "categorical"
    with pytest.raises(InvalidParameterValue, match="kinds: no column named 'nope'"):
        profile(df, kinds={"nope": "text"})
    with pytest.raises(InvalidParameterValue, match="cannot be numeric"):
        profile(df, kinds={"zip": "numeric"})


def test_text_drift_uses_length_and_reports_out_of_vocabulary() -> None:
    rng = np.random.default_rng(2)
    words = np.array(["model", "data", "drift", "alert", "python", "serve", "train", "label"])
    ref = {"q": [" ".join(rng.choice(words, rng.integers(5, 12))) for _ in range(800)]}
    cur = {"q": [" ".join(rng.choice(words, rng.integers(15, 25))) + " kubernetes helm" for _ in range(300)]}
    col = drift_report(profile(ref), cur)["columns"][0]
    assert col["kind"] == "text" and col["method"] == "ks" and col["drift"]
    assert col["oov_rate"] > 0.05 and col["reference_oov_rate"] == 0.0


def test_quality_checks_have_verdicts() -> None:
    rng = np.random.default_rng(3)
    ref = profile({"age": rng.normal(40, 5, 500), "plan": rng.choice(["a", "b"], 500)})
    ok = check_quality(ref, {"age": rng.normal(40, 5, 200), "plan": rng.choice(["a", "b"], 200)})
    assert ok["passed"] and {c["verdict"] for c in ok["checks"]} == {"pass"}
    bad = {"age": ["x"] * 10 + [None] * 40 + [500.0] * 50, "plan": ["z"] * 100, "extra": [1] * 100}
    got = check_quality(ref, bad)
    assert set(got["failed"]) >= {"type:age", "missing_rate:age", "out_of_range:age", "unseen_categories:plan",
                                  "duplicate_rows"}
    assert next(c for c in got["checks"] if c["check"] == "new_columns")["verdict"] == "warn"
    with pytest.raises(DataQualityFailed, match="Data quality failed") as info:
        assert_quality(ref, bad)
    assert info.value.report["passed"] is False
    with pytest.raises(InvalidParameterValue, match="limits: 'speed'"):
        check_quality(ref, bad, limits={"speed": 0.1})


def test_few_valued_numbers_are_compared_as_categories_and_profiles_are_checked() -> None:
    rng = np.random.default_rng(4)
    ref = profile({"rating": rng.integers(1, 6, 3000).astype(float)})
    col = drift_report(ref, {"rating": rng.integers(1, 6, 500).astype(float)})["columns"][0]
    assert col["method"] == "jensenshannon" and col["from_sketch"] is False and not col["drift"]
    broken = json.loads(json.dumps(ref))
    broken["columns"][0]["quantiles"] = [3.0, 1.0]
    with pytest.raises(InvalidParameterValue, match="quantiles: give a sorted list"):
        drift_report(broken, {"rating": [1.0, 2.0]})
