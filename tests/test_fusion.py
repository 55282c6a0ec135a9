import numpy as np
import pytest

from emorec.fusion import fscore_weights, fuse, normalise, pair_by_label, to_common_space


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("method", ["fscore", "mean", "product"])
def test_fused_rows_are_distributions(seed, method):
    rng = np.random.default_rng(seed)
    proba = {m: rng.dirichlet(np.ones(5), 30) for m in ("audio", "visual")}
    weights = fscore_weights({"audio": rng.uniform(0, 1, 5), "visual": rng.uniform(0, 1, 5)})
    fused = fuse(proba, method=method, weights=weights)
    assert fused.shape == (30, 5)
    np.testing.assert_allclose(fused.sum(axis=1), 1.0)
    assert (fused >= 0).all()


def test_fscore_weights_follow_the_formula():
    weights = fscore_weights({"audio": np.array([0.8, 0.2, 0.0]), "visual": np.array([0.2, 0.6, 0.0])})
    np.testing.assert_allclose(weights["audio"], [0.8, 0.25, 0.5])
    np.testing.assert_allclose(weights["visual"], [0.2, 0.75, 0.5])


def test_fscore_fusion_trusts_the_better_modality_per_class():
    audio = np.array([[0.9, 0.1], [0.6, 0.4]])
    visual = np.array([[0.2, 0.8], [0.1, 0.9]])
    weights = {"audio": np.array([1.0, 0.0]), "visual": np.array([0.0, 1.0])}
    fused = fuse({"audio": audio, "visual": visual}, method="fscore", weights=weights)
    np.testing.assert_allclose(fused, normalise(np.array([[0.9, 0.8], [0.6, 0.9]])))


def test_equal_weights_make_fscore_fusion_the_mean():
    rng = np.random.default_rng(0)
    proba = {m: rng.dirichlet(np.ones(4), 10) for m in ("audio", "visual")}
    equal = fscore_weights({"audio": np.ones(4), "visual": np.ones(4)})
    np.testing.assert_allclose(fuse(proba, method="fscore", weights=equal), fuse(proba, method="mean"))


def test_product_fusion_and_bad_method():
    proba = {"a": np.array([[0.5, 0.5]]), "b": np.array([[0.9, 0.1]])}
    np.testing.assert_allclose(fuse(proba, method="product"), [[0.9, 0.1]])
    with pytest.raises(ValueError, match="unknown fusion method 'max'"):
        fuse(proba, method="max")
    with pytest.raises(ValueError, match="weights"):
        fuse(proba, method="fscore")


def test_common_space_merges_and_drops_labels():
    labels = ["neutral", "calm", "happy", "surprised"]
    proba = np.array([[0.1, 0.3, 0.4, 0.2]])
    merged = to_common_space(proba, labels, {"calm": "neutral"}, ["neutral", "happy", "surprised"])
    np.testing.assert_allclose(merged, [[0.4, 0.4, 0.2]])
    dropped = to_common_space(proba, labels, {"calm": None}, ["neutral", "happy", "surprised"])
    np.testing.assert_allclose(dropped, [[0.1 / 0.7, 0.4 / 0.7, 0.2 / 0.7]])


@pytest.mark.parametrize("seed", range(3))
def test_pairs_match_labels_and_spread_over_faces(seed):
    rng = np.random.default_rng(seed)
    audio = rng.integers(0, 4, 50)
    faces = rng.integers(0, 3, 20)  # label 3 has no face
    pairs = pair_by_label(audio, faces, rng=np.random.default_rng(seed))
    assert (pairs[audio == 3] == -1).all()
    matched = pairs >= 0
    np.testing.assert_array_equal(faces[pairs[matched]], audio[matched])
    for label in range(3):
        used = pairs[audio == label]
        available = (faces == label).sum()
        assert len(set(used)) == min(len(used), available)  # no reuse before exhaustion
    again = pair_by_label(audio, faces, rng=np.random.default_rng(seed))
    np.testing.assert_array_equal(pairs, again)
