import numpy as np
import pytest
from sklearn.metrics import (
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from emorec.metrics import confusion, evaluate, top_k_accuracy

LABELS = ["a", "b", "c", "d"]


def random_case(seed, n=60, classes=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    proba = rng.dirichlet(np.ones(classes), n)
    proba[np.arange(n), y] += rng.uniform(0, 0.6, n)  # better than chance
    return y, proba / proba.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(5))
def test_metrics_agree_with_scikit_learn(seed):
    y, proba = random_case(seed)
    result = evaluate(y, proba, labels=LABELS)
    pred = proba.argmax(axis=1)
    assert result["accuracy"] == pytest.approx((pred == y).mean())
    assert result["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert result["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert result["top2_accuracy"] == pytest.approx(top_k_accuracy_score(y, proba, k=2, labels=range(4)))
    np.testing.assert_array_equal(result["confusion"], confusion_matrix(y, pred, labels=range(4)))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=range(4), zero_division=0)
    np.testing.assert_allclose(result["per_class"]["precision"], p)
    np.testing.assert_allclose(result["per_class"]["recall"], r)
    np.testing.assert_allclose(result["per_class"]["f1"], f)
    np.testing.assert_array_equal(result["per_class"]["support"], s)


def test_absent_classes_get_zero_rows_and_do_not_count_in_macro_scores():
    y = np.array([0, 0, 1, 1])
    proba = np.eye(4)[[0, 0, 1, 3]]
    result = evaluate(y, proba, labels=LABELS)
    assert result["confusion"].shape == (4, 4)
    assert result["per_class"]["support"].tolist() == [2, 2, 0, 0]
    assert result["balanced_accuracy"] == pytest.approx(0.75)  # mean recall over a, b
    assert result["macro_f1"] == pytest.approx((1.0 + 2 / 3) / 2)


def test_confusion_counts_and_top_k_edges():
    assert confusion(np.array([0, 1, 1]), np.array([1, 1, 1]), n_classes=2).tolist() == [[0, 1], [0, 2]]
    proba = np.array([[0.5, 0.3, 0.2]])
    assert [top_k_accuracy(np.array([2]), proba, k=k) for k in (1, 2, 3)] == [0.0, 0.0, 1.0]
    assert top_k_accuracy(np.array([], dtype=int), np.zeros((0, 3)), k=2) == 0.0
