"""scikit-learn audio classifiers on the descriptor columns, tuned by speaker-grouped CV.

Each kind is a pipeline (scaler + estimator) whose hyper-parameter grid comes from params;
grid search folds are grouped by speaker so no actor is in both a fold's train and test.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

KINDS = ("svm", "random_forest", "gradient_boosting", "mlp")
#: Where each kind's hyper-parameters live inside the pipeline.
_PARAM_PREFIX = {
    "svm": "model__estimator__",
    "random_forest": "model__",
    "gradient_boosting": "model__",
    "mlp": "model__",
}


def build_pipeline(kind: str, *, seed: int) -> Pipeline:
    """An untrained ``scaler -> model`` pipeline of ``kind`` (one of :data:`KINDS`)."""
    if kind == "svm":  # Platt-scaled probabilities (SVC(probability=True) is deprecated)
        model: Any = CalibratedClassifierCV(SVC(random_state=seed), ensemble=False)
    elif kind == "random_forest":
        model = RandomForestClassifier(random_state=seed, n_jobs=1)
    elif kind == "gradient_boosting":
        model = HistGradientBoostingClassifier(random_state=seed)
    elif kind == "mlp":  # seed 002 compared an MLP beside SVM, random forest and boosting
        model = MLPClassifier(random_state=seed, max_iter=500)
    else:
        raise ValueError(f"unknown audio model kind {kind!r}; expected one of {', '.join(KINDS)}")
    return Pipeline([("scale", StandardScaler()), ("model", model)])


def tune(
    X: np.ndarray,
    y: np.ndarray,
    groups: Sequence[str],
    *,
    kind: str,
    grid: Mapping[str, Sequence[Any]],
    folds: int,
    seed: int,
    n_jobs: int = 1,
    estimate: bool = True,
) -> tuple[Pipeline, dict[str, Any]]:
    """Grid-search ``grid`` (keys are the model's parameter names) by speaker-grouped CV,
    scored by macro-F1, then refit on all of ``X``.

    Returns the fitted best pipeline and ``{"best_params", "cv_macro_f1", "cv_results"}``.
    When a fold's training speakers hold a single class (labels that are a speaker's own, such
    as sex, with few speakers), no fold can score the grid: the first grid point is fitted on
    all of ``X`` and ``cv_macro_f1`` is ``None``, so the card says the search did not run.
    Without ``estimate``, a grid of one point is fitted once the same way: its CV would only
    estimate a score that the caller measures itself (an outer cross-validation fold), and it
    costs ``folds`` more fits. The fitted model is the one the search would refit.
    """
    n_groups = len(set(groups))
    if n_groups < 2:
        raise ValueError(f"speaker-grouped CV needs at least 2 speakers, got {n_groups}")
    splitter = GroupKFold(n_splits=min(folds, n_groups))
    one_point = all(len(list(v)) == 1 for v in grid.values())
    if (one_point and not estimate) or any(
        len(np.unique(y[train])) < 2 for train, _ in splitter.split(X, y, groups=list(groups))
    ):
        first = {k: next(iter(v)) for k, v in grid.items()}
        pipeline = build_pipeline(kind, seed=seed).set_params(
            **{f"{_PARAM_PREFIX[kind]}{k}": v for k, v in first.items()}
        )
        return pipeline.fit(X, y), {"best_params": first, "cv_macro_f1": None, "cv_results": []}
    search = GridSearchCV(
        build_pipeline(kind, seed=seed),
        {f"{_PARAM_PREFIX[kind]}{k}": list(v) for k, v in grid.items()},
        scoring="f1_macro",
        cv=splitter,
        n_jobs=n_jobs,
        refit=True,
    )
    search.fit(X, y, groups=list(groups))
    prefix = _PARAM_PREFIX[kind]
    best = {k.removeprefix(prefix): v for k, v in search.best_params_.items()}
    results = [
        {
            "params": {k.removeprefix(prefix): v for k, v in p.items()},
            "mean_macro_f1": float(m),
            "std_macro_f1": float(s),
        }
        for p, m, s in zip(
            search.cv_results_["params"],
            search.cv_results_["mean_test_score"],
            search.cv_results_["std_test_score"],
        )
    ]
    return search.best_estimator_, {
        "best_params": best,
        "cv_macro_f1": float(search.best_score_),
        "cv_results": results,
    }
