"""Predicted CSAT: what a resolved conversation's customer would probably have answered.

Most customers never answer the survey, and the ones who do are not a random sample; a model of
the answers from what every conversation has (its signals, trajectory and handling) gives an
estimate for the silent ones. It is a ridge regression fitted in numpy (scikit-learn is only an
optional extra), on standardised features, with its penalty chosen by k-fold cross-validation
and a linear recalibration of its out-of-fold predictions (ridge shrinks towards the mean; the
recalibration stretches it back), clipped to 1-5. The reported error is honest: every fold of
the outer cross-validation refits the whole procedure without the answers it is scored on.
Below ``MINIMUM`` answers it refuses: "not enough answers".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gracedesk.insights.rows import (
    ConversationRow,
    EscalationRow,
    History,
    MessageRow,
    Period,
    SanctionRow,
    SurveyRow,
)

MINIMUM = 30  # answered conversations below which the model refuses to predict
FOLDS = 5
ALPHAS = (0.1, 1.0, 10.0, 100.0)
NOT_ENOUGH = "not enough answers"
FEATURES = (
    "first_risk",  # risk of the first analysed customer message
    "last_risk",
    "max_risk",
    "anger_change",  # anger of the last analysed customer message minus the first's
    "turns",  # log(1 + customer and agent messages)
    "escalated",  # 1 when an escalation was opened
    "sanctions",  # sanctions given in the conversation
    "first_response_minutes",  # log(1 + business minutes to the first reply)
    "resolution_minutes",  # log(1 + business minutes to resolution)
    "coach_score",  # the coach's mean score of the agents' replies, 0-1
    "reopened",  # 1 when the customer reopened it before this resolution
)

Matrix = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Grouped:
    """A history's rows by conversation (built once, read per conversation)."""

    messages: Mapping[int, list[MessageRow]]
    escalations: Mapping[int, list[EscalationRow]]
    sanctions: Mapping[int, list[SanctionRow]]
    reopened: Mapping[int, list[datetime]]

    @classmethod
    def of(cls, h: History) -> Grouped:
        messages: dict[int, list[MessageRow]] = {}
        for m in sorted(h.messages, key=lambda m: (m.received_at, m.id)):
            messages.setdefault(m.conversation_id, []).append(m)
        escalations: dict[int, list[EscalationRow]] = {}
        for e in h.escalations:
            escalations.setdefault(e.conversation_id, []).append(e)
        sanctions: dict[int, list[SanctionRow]] = {}
        for x in h.sanctions:
            if x.conversation_id is not None:
                sanctions.setdefault(x.conversation_id, []).append(x)
        reopened: dict[int, list[datetime]] = {}
        for ev in h.events:
            if ev.kind == "conversation.reopened" and ev.conversation_id is not None:
                reopened.setdefault(ev.conversation_id, []).append(ev.at)
        return cls(messages, escalations, sanctions, reopened)


def _log(minutes: float | None) -> float:
    return math.log1p(minutes) if minutes is not None else math.nan


def features(c: ConversationRow, g: Grouped, cutoff: datetime) -> tuple[float, ...]:
    """The conversation's features as they stood at ``cutoff`` (its resolution); NaN where
    unknown (no analysed message, no reply), filled in by the model with the training mean."""
    msgs = [m for m in g.messages.get(c.id, []) if m.received_at <= cutoff]
    risks = [m.risk for m in msgs if m.author == "customer" and m.analysed and m.risk is not None]
    anger = [m.anger for m in msgs if m.author == "customer" and m.analysed and m.anger is not None]
    coach = [m.coach_score for m in msgs if m.author == "agent" and m.coach_score is not None]
    row = {
        "first_risk": risks[0] if risks else math.nan,
        "last_risk": risks[-1] if risks else math.nan,
        "max_risk": max(risks) if risks else math.nan,
        "anger_change": anger[-1] - anger[0] if anger else math.nan,
        "turns": math.log1p(sum(1 for m in msgs if m.author in ("customer", "agent"))),
        "escalated": float(
            any(
                e.kind == "escalation" and e.created_at <= cutoff
                for e in g.escalations.get(c.id, [])
            )
        ),
        "sanctions": float(sum(1 for x in g.sanctions.get(c.id, []) if x.created_at <= cutoff)),
        "first_response_minutes": _log(c.first_response_minutes),
        "resolution_minutes": _log(c.resolution_minutes),
        "coach_score": sum(coach) / len(coach) / 100 if coach else math.nan,
        "reopened": float(any(t < cutoff for t in g.reopened.get(c.id, []))),
    }
    return tuple(row[f] for f in FEATURES)


def _folds(n: int, k: int, seed: int) -> list[NDArray[np.intp]]:
    """``k`` disjoint test folds of ``range(n)`` from a seeded shuffle (reproducible)."""
    perm = np.random.default_rng(seed).permutation(n)
    return [perm[i::k] for i in range(k)]


def _ridge(z: Matrix, y: Matrix, alpha: float) -> tuple[Matrix, float]:
    """Ridge coefficients and intercept (the intercept is not penalised)."""
    zm, ym = z.mean(axis=0), float(y.mean())
    zc = z - zm
    w = np.linalg.solve(zc.T @ zc + alpha * np.eye(z.shape[1]), zc.T @ (y - ym))
    return w, ym - float(zm @ w)


def _out_of_fold(z: Matrix, y: Matrix, alpha: float, folds: list[NDArray[np.intp]]) -> Matrix:
    pred = np.empty_like(y)
    for test in folds:
        train = np.setdiff1d(np.arange(len(y)), test)
        w, b = _ridge(z[train], y[train], alpha)
        pred[test] = z[test] @ w + b
    return pred


class CsatRegressor:
    """CSAT (1-5) from conversation features; scikit-learn's estimator contract.

    ``fit`` learns ``fill_`` (training means for unknown values), ``center_``/``scale_``
    (standardisation), ``alpha_`` (the penalty with the lowest k-fold mean absolute error),
    ``coef_``/``intercept_`` (on standardised features) and ``calibration_`` (slope and
    intercept mapping out-of-fold predictions onto the answers).
    """

    def __init__(self, alphas: Sequence[float] = ALPHAS, folds: int = FOLDS, seed: int = 0) -> None:
        self.alphas = alphas
        self.folds = folds
        self.seed = seed

    def _standard(self, x: ArrayLike) -> Matrix:
        a = np.array(x, dtype=np.float64)
        a = np.where(np.isnan(a), self.fill_, a)
        out: Matrix = (a - self.center_) / self.scale_
        return out

    def fit(self, x: ArrayLike, y: ArrayLike) -> Self:
        a = np.array(x, dtype=np.float64)
        t = np.array(y, dtype=np.float64)
        if a.ndim != 2 or len(a) != len(t):
            raise ValueError("x must be (n, features) with one answer per row")
        if len(t) < 2 * self.folds:
            raise ValueError(f"{len(t)} answers: need at least {2 * self.folds} to fit")
        known = ~np.isnan(a)
        sums = np.where(known, a, 0.0).sum(axis=0)
        counts = known.sum(axis=0)
        self.fill_ = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        filled = np.where(known, a, self.fill_)
        self.center_ = filled.mean(axis=0)
        std = filled.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        z = (filled - self.center_) / self.scale_
        folds = _folds(len(t), self.folds, self.seed)
        errors = {
            alpha: float(np.abs(np.clip(_out_of_fold(z, t, alpha, folds), 1, 5) - t).mean())
            for alpha in self.alphas
        }
        self.alpha_ = min(self.alphas, key=lambda al: (errors[al], -al))  # ties: more penalty
        oof = _out_of_fold(z, t, self.alpha_, folds)
        self.calibration_ = _calibration(oof, t)
        self.coef_, self.intercept_ = _ridge(z, t, self.alpha_)
        return self

    def predict(self, x: ArrayLike) -> Matrix:
        raw = self._standard(x) @ self.coef_ + self.intercept_
        slope, intercept = self.calibration_
        out: Matrix = np.clip(slope * raw + intercept, 1.0, 5.0)
        return out


def _calibration(pred: Matrix, y: Matrix) -> tuple[float, float]:
    """Least-squares ``y ~ slope * pred + intercept``; a flat or backward fit predicts the mean."""
    spread = float(pred.var())
    if spread <= 1e-12:
        return 0.0, float(y.mean())
    slope = float(((pred - pred.mean()) * (y - y.mean())).mean() / spread)
    if slope <= 0:
        return 0.0, float(y.mean())
    return slope, float(y.mean() - slope * pred.mean())


@dataclass(frozen=True, slots=True)
class Validation:
    answered: int
    folds: int
    mae: float  # the model's, on answers it did not see
    baseline_mae: float  # predicting the training folds' mean answer


def cross_validate(x: ArrayLike, y: ArrayLike, *, folds: int = FOLDS, seed: int = 0) -> Validation:
    """k-fold mean absolute error of the whole fitting procedure, next to the mean's."""
    a = np.array(x, dtype=np.float64)
    t = np.array(y, dtype=np.float64)
    model_err = np.empty_like(t)
    base_err = np.empty_like(t)
    for test in _folds(len(t), folds, seed + 1):
        train = np.setdiff1d(np.arange(len(t)), test)
        model = CsatRegressor(folds=folds, seed=seed).fit(a[train], t[train])
        model_err[test] = np.abs(model.predict(a[test]) - t[test])
        base_err[test] = np.abs(t[train].mean() - t[test])
    return Validation(len(t), folds, float(model_err.mean()), float(base_err.mean()))


def answers(h: History, until: datetime) -> dict[int, SurveyRow]:
    """Each conversation's latest survey answered before ``until``."""
    out: dict[int, SurveyRow] = {}
    for s in h.surveys:
        if s.score is None or s.responded_at is None or s.responded_at >= until:
            continue
        best = out.get(s.conversation_id)
        if best is None or (s.responded_at, s.id) > (best.responded_at or s.responded_at, best.id):
            out[s.conversation_id] = s
    return out


def training_set(h: History, until: datetime) -> tuple[list[tuple[float, ...]], list[int]]:
    """Features at the moment each answered survey was sent, and the answers."""
    g = Grouped.of(h)
    convs = {c.id: c for c in h.conversations}
    xs, ys = [], []
    for cid, s in sorted(answers(h, until).items()):
        if cid in convs and s.score is not None:
            xs.append(features(convs[cid], g, s.sent_at))
            ys.append(s.score)
    return xs, ys


def unanswered(h: History, p: Period) -> list[tuple[int, tuple[float, ...]]]:
    """Conversations resolved in the period without an answer, with their features."""
    g = Grouped.of(h)
    answered = answers(h, p.until)
    return [
        (c.id, features(c, g, c.resolved_at))
        for c in sorted(h.conversations, key=lambda c: c.id)
        if c.status == "resolved"
        and c.resolved_at is not None
        and p.contains(c.resolved_at)
        and c.id not in answered
    ]


def section(
    training: History,
    scope: History,
    p: Period,
    *,
    minimum: int = MINIMUM,
    folds: int = FOLDS,
) -> dict[str, Any]:
    """The report's ``predicted_csat``: trained and validated on ``training``'s answers,
    predicting ``scope``'s conversations resolved in the period that have none."""
    xs, ys = training_set(training, p.until)
    todo = unanswered(scope, p)
    out: dict[str, Any] = {
        "status": "ok",
        "answered": len(ys),
        "minimum": minimum,
        "folds": folds,
        "answered_mean": round(sum(ys) / len(ys), 2) if ys else None,
        "mae": None,
        "baseline_mae": None,
        "predicted": {"conversations": len(todo), "mean": None},
        "model": None,
    }
    if len(ys) < max(minimum, 2 * folds):
        out["status"] = NOT_ENOUGH
        return out
    check = cross_validate(xs, ys, folds=folds)
    model = CsatRegressor(folds=folds).fit(xs, ys)
    out["mae"] = round(check.mae, 3)
    out["baseline_mae"] = round(check.baseline_mae, 3)
    if todo:
        pred = model.predict([x for _, x in todo])
        out["predicted"]["mean"] = round(float(pred.mean()), 2)
    out["model"] = {
        "kind": "ridge",
        "alpha": model.alpha_,
        "coefficients": {f: round(float(w), 4) for f, w in zip(FEATURES, model.coef_, strict=True)},
        "calibration": {
            "slope": round(model.calibration_[0], 4),
            "intercept": round(model.calibration_[1], 4),
        },
    }
    return out
