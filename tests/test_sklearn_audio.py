import numpy as np
import pytest

from emorec.models.sklearn_audio import KINDS, build_pipeline, tune


def grouped_data(seed=0, speakers=6, per=20, classes=3, features=5):
    rng = np.random.default_rng(seed)
    y = np.tile(np.arange(classes), speakers * per // classes)
    groups = np.repeat([f"s{i}" for i in range(speakers)], per)
    X = rng.normal(size=(len(y), features)) + 1.5 * np.eye(classes, features)[y]
    X += rng.normal(size=(speakers, features))[np.repeat(np.arange(speakers), per)]  # speaker offsets
    return X, y, groups


@pytest.mark.parametrize(
    ("kind", "grid"),
    [
        ("svm", {"C": [0.1, 10.0]}),
        ("random_forest", {"n_estimators": [20], "max_depth": [2, None]}),
        ("gradient_boosting", {"max_iter": [20]}),
    ],
)
def test_tune_learns_and_reports_the_grid(kind, grid):
    X, y, groups = grouped_data()
    model, report = tune(X, y, groups, kind=kind, grid=grid, folds=3, seed=1)
    assert set(report["best_params"]) == set(grid)
    assert len(report["cv_results"]) == int(np.prod([len(v) for v in grid.values()]))
    assert 0.5 < report["cv_macro_f1"] <= 1.0
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 3) and np.allclose(proba.sum(axis=1), 1)


def test_tuning_is_deterministic_for_a_seed():
    X, y, groups = grouped_data(seed=3)
    a, _ = tune(X, y, groups, kind="random_forest", grid={"n_estimators": [15]}, folds=3, seed=7)
    b, _ = tune(X, y, groups, kind="random_forest", grid={"n_estimators": [15]}, folds=3, seed=7)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_bad_kind_and_single_speaker_fail_clearly():
    with pytest.raises(ValueError, match="unknown audio model kind 'xgb'"):
        build_pipeline("xgb", seed=0)
    X, y, _ = grouped_data()
    with pytest.raises(ValueError, match="at least 2 speakers"):
        tune(X, y, ["one"] * len(y), kind="svm", grid={"C": [1.0]}, folds=3, seed=0)
    assert KINDS == ("svm", "random_forest", "gradient_boosting", "mlp")


def test_speaker_labels_with_two_speakers_skip_the_search_and_fit_the_first_grid_point():
    """Sex is a speaker's own label: with one speaker per sex every fold trains on one class."""
    X, _, groups = grouped_data(speakers=2, classes=2)
    y = (groups == "s1").astype(int)
    model, report = tune(X, y, groups, kind="svm", grid={"C": [0.5, 10.0]}, folds=3, seed=0)
    assert report == {"best_params": {"C": 0.5}, "cv_macro_f1": None, "cv_results": []}
    assert model.get_params()["model__estimator__C"] == 0.5
    assert model.predict_proba(X).shape == (len(y), 2)


@pytest.mark.parametrize("kind", ["mlp", "random_forest"])
def test_a_one_point_grid_without_estimate_fits_once_the_model_the_search_refits(kind):
    """Inside an outer CV fold the inner search of a one-point grid only estimates a score: it
    is skipped, and the model is the same as the search's refit."""
    X, y, groups = grouped_data(seed=5)
    grid = {"hidden_layer_sizes": [[8]]} if kind == "mlp" else {"n_estimators": [10]}
    searched, report = tune(X, y, groups, kind=kind, grid=grid, folds=3, seed=2)
    once, shortcut = tune(X, y, groups, kind=kind, grid=grid, folds=3, seed=2, estimate=False)
    np.testing.assert_allclose(once.predict_proba(X), searched.predict_proba(X), rtol=0, atol=1e-12)
    assert report["cv_macro_f1"] is not None and shortcut["cv_macro_f1"] is None
    assert shortcut["best_params"] == report["best_params"]
    two_points = tune(X, y, groups, kind="svm", grid={"C": [0.5, 10.0]}, folds=3, seed=0, estimate=False)[1]
    assert two_points["cv_macro_f1"] is not None  # a real choice is still searched
