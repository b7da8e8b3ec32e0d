"""Predicted CSAT: the model recovers a known rule, beats the mean, and refuses with too few.

On arrays first (the estimator alone), then on a synthetic store history where each answer is
5 - 3.5 x risk - 1 when escalated (rounded, 1-5), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from gracedesk.insights.predicted_csat import FEATURES, CsatRegressor, cross_validate
from gracedesk.service import reports
from gracedesk.store import Store

from .history import synthetic_history

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def _rule_data(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n, 3))
    y = np.clip(np.round(3 + 2.5 * x[:, 0] - 2 * x[:, 1] + rng.normal(0, 0.3, n)), 1, 5)
    return x, y


def test_the_estimator_recovers_a_linear_rule_better_than_the_mean() -> None:
    x, y = _rule_data(120)
    check = cross_validate(x, y)
    assert check.answered == 120 and check.folds == 5
    assert check.mae < 0.6 * check.baseline_mae, check
    model = CsatRegressor().fit(x, y)
    assert model.coef_[0] > 0 > model.coef_[1]  # the signs of the rule
    assert abs(model.coef_[2]) < abs(model.coef_[1]) / 3  # the third feature is noise
    low, high = model.predict([[0.0, 1.0, 0.5], [1.0, 0.0, 0.5]])
    assert low < 2.0 < 4.5 < high
    assert model.predict(x).min() >= 1.0 and model.predict(x).max() <= 5.0


def test_unknown_values_take_the_training_mean() -> None:
    x, y = _rule_data(60)
    x[::4, 2] = np.nan
    model = CsatRegressor().fit(x, y)
    assert not np.isnan(model.predict([[0.5, 0.5, np.nan]])).any()
    assert model.fill_[2] == pytest.approx(np.nanmean(x[:, 2]))


def test_the_estimator_refuses_too_few_answers() -> None:
    x, y = _rule_data(9)
    with pytest.raises(ValueError, match="need at least 10"):
        CsatRegressor().fit(x, y)


def test_a_constant_answer_predicts_that_answer() -> None:
    x, _ = _rule_data(40)
    model = CsatRegressor().fit(x, np.full(40, 4.0))
    assert model.predict(x) == pytest.approx(np.full(40, 4.0))


def _report(store: Store, policy: Any) -> dict[str, Any]:
    period = reports.period_of("2026-11-02", "2026-11-29", now=NOW)
    return reports.summary(store, policy, period)["predicted_csat"]


def test_the_report_learns_the_rule_from_the_store(store: Store, policy: Any) -> None:
    synthetic_history(store, answered=45, silent=5)
    p = _report(store, policy)
    assert p["status"] == "ok"
    assert p["answered"] == 45 and p["minimum"] == 30 and p["folds"] == 5
    # validated on answers it did not see, and much better than always saying the mean
    assert p["mae"] < 0.6 * p["baseline_mae"], p
    # the five silent conversations are calm (risk 0.05, not escalated): the rule says 5
    assert p["predicted"]["conversations"] == 5
    assert p["predicted"]["mean"] >= 4.3
    coef = p["model"]["coefficients"]
    assert list(coef) == list(FEATURES)
    assert coef["escalated"] < 0
    assert coef["max_risk"] + coef["last_risk"] + coef["first_risk"] < 0


def test_the_report_refuses_below_the_minimum(store: Store, policy: Any) -> None:
    synthetic_history(store, answered=29, silent=2)
    p = _report(store, policy)
    assert p["status"] == "not enough answers"
    assert p["answered"] == 29
    assert p["mae"] is None and p["model"] is None
    assert p["predicted"] == {"conversations": 2, "mean": None}
