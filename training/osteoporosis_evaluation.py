"""The osteoporosis risk model family and how it is judged against the OST rule.

Imputer -> scaler -> logistic regression with C tuned by an inner CV; judged by nested,
repeated stratified CV on the development rows, with a patient-level bootstrap of the AUC
difference to the two-number Osteoporosis Self-assessment Tool on the same folds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    RepeatedStratifiedKFold,
    StratifiedKFold,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from desktop.core import metrics
from training.evaluation import best_balanced_threshold

__all__ = ["C_GRID", "bootstrap", "cross_validate", "make_pipeline", "sens_spec", "tuned"]

C_GRID = tuple(float(c) for c in np.logspace(-3, 1, 9))


def make_pipeline(c: float = 1.0) -> Pipeline:
    """Mean imputation: an unknown answer then sits at the scaler's mean and adds exactly 0 to the log-odds."""
    return Pipeline([
        ("impute", SimpleImputer(strategy="mean")),
        ("scale", StandardScaler()),
        ("model", LogisticRegression(C=c, class_weight="balanced", max_iter=5000)),  # L2 is the default penalty
    ])


def tuned(seed: int) -> GridSearchCV:
    """C chosen by an inner stratified 5-fold CV on the training part only (nested CV)."""
    return GridSearchCV(make_pipeline(), {"model__C": list(C_GRID)}, scoring="roc_auc",
                        cv=StratifiedKFold(5, shuffle=True, random_state=seed), n_jobs=1)


def bootstrap(y: np.ndarray, model_scores: np.ndarray, ost_scores: np.ndarray, *, n_boot: int, seed: int) -> dict[str, Any]:
    """Patient-level bootstrap of out-of-fold scores: AUC(model, mean over repeats), AUC(-OST), difference."""
    model_scores = np.atleast_2d(model_scores)
    rng = np.random.default_rng(seed)
    point_model = float(np.mean([metrics.roc_auc(y, s) for s in model_scores]))
    point_ost = metrics.roc_auc(y, -ost_scores)
    draws = []
    while len(draws) < n_boot:
        idx = rng.integers(0, y.size, y.size)
        if y[idx].min() == y[idx].max():
            continue  # a resample without both classes has no AUC
        auc_m = float(np.mean([metrics.roc_auc(y[idx], s[idx]) for s in model_scores]))
        auc_o = metrics.roc_auc(y[idx], -ost_scores[idx])
        draws.append((auc_m, auc_o, auc_m - auc_o))
    d = np.array(draws)

    def ci(col: int) -> list[float]:
        return [round(float(v), 4) for v in np.percentile(d[:, col], [2.5, 97.5])]

    return {
        "model_auc": round(point_model, 4), "model_auc_ci95": ci(0),
        "ost_auc": round(point_ost, 4), "ost_auc_ci95": ci(1),
        "difference": round(point_model - point_ost, 4), "difference_ci95": ci(2),
        "share_of_resamples_model_better": round(float(np.mean(d[:, 2] > 0)), 4),
        "n_bootstrap": n_boot,
    }


def sens_spec(y: np.ndarray, positive: np.ndarray) -> dict[str, Any]:
    tp, fn = int((positive & (y == 1)).sum()), int((~positive & (y == 1)).sum())
    tn, fp = int((~positive & (y == 0)).sum()), int((positive & (y == 0)).sum())
    return {"sensitivity": round(tp / (tp + fn), 4) if tp + fn else None, "specificity": round(tn / (tn + fp), 4) if tn + fp else None,
            "counts": {"true_positive": tp, "false_negative": fn, "true_negative": tn, "false_positive": fp}}


def cross_validate(x: np.ndarray, y: np.ndarray, ost: np.ndarray, *, repeats: int, seed: int, n_boot: int) -> dict[str, Any]:
    """Nested, repeated stratified 5-fold CV on the development rows; OST scored on the same folds."""
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=repeats, random_state=seed)
    oof = np.full((repeats, y.size), np.nan)
    fold_model, fold_ost, chosen_c = [], [], []
    for k, (train, held) in enumerate(folds.split(x, y)):
        search = tuned(seed + k).fit(x[train], y[train])
        oof[k // 5, held] = search.predict_proba(x[held])[:, 1]
        chosen_c.append(search.best_params_["model__C"])
        fold_model.append(metrics.roc_auc(y[held], oof[k // 5, held]))
        fold_ost.append(metrics.roc_auc(y[held], -ost[held]))
    per_repeat = [metrics.roc_auc(y, row) for row in oof]
    mean_oof = oof.mean(axis=0)
    threshold = best_balanced_threshold(mean_oof, y)
    return {
        "scheme": f"stratified 5-fold x {repeats} repeats on the development set; C tuned inside each training fold",
        "ci_method": "patient-level bootstrap (percentile) of the pooled out-of-fold scores; model AUC = mean over repeats",
        **bootstrap(y, oof, ost, n_boot=n_boot, seed=seed),
        "model_auc_per_repeat_range": [round(min(per_repeat), 4), round(max(per_repeat), 4)],
        "mean_fold_auc": {"model": round(float(np.mean(fold_model)), 4), "ost": round(float(np.mean(fold_ost)), 4),
                          "folds_model_better": int(np.sum(np.array(fold_model) > np.array(fold_ost))), "folds": len(fold_model)},
        "chosen_C": dict(sorted(Counter(round(c, 4) for c in chosen_c).items())),
        "threshold_from_oof": threshold,
        "at_threshold": sens_spec(y, mean_oof >= threshold),
        "ost_below_minus_1": sens_spec(y, ost <= -1.0),
        "mean_oof_probability": round(float(mean_oof.mean()), 4),
        "prevalence": round(float(y.mean()), 4),
    }
