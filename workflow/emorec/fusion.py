"""Late fusion of audio and visual class probabilities, weighted per class by F-score.

w_m(c) = F1_m(c) / sum_m' F1_m'(c), with F1 measured on *validation* predictions only;
fused p(c) = sum_m w_m(c) p_m(c), renormalised per sample. The mean and the (renormalised)
product of the modalities' probabilities are the baselines reported beside it.
"""

from collections.abc import Mapping, Sequence

import numpy as np

FUSION_METHODS = ("fscore", "mean", "product")


def to_common_space(
    proba: np.ndarray, labels: Sequence[str], mapping: Mapping[str, str | None], common: Sequence[str]
) -> np.ndarray:
    """Move probabilities from ``labels`` into ``common`` labels, summing merged classes.

    ``mapping`` sends a label to another (e.g. ``calm -> neutral``) or to ``None`` (dropped);
    unmapped labels keep their name. Rows are renormalised after dropping.

    Returns
    -------
    np.ndarray [shape=(n, len(common))]
    """
    index = {label: i for i, label in enumerate(common)}
    out = np.zeros((proba.shape[0], len(common)))
    for j, label in enumerate(labels):
        target = mapping.get(label, label)
        if target is not None and target in index:
            out[:, index[target]] += proba[:, j]
    return normalise(out)


def normalise(proba: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to 1 (uniform where a row is all zero)."""
    total = proba.sum(axis=1, keepdims=True)
    uniform = np.full_like(proba, 1.0 / proba.shape[1])
    return np.divide(proba, total, out=uniform, where=total > 0)


POOLING = ("mean", "geometric")


def pool(proba: np.ndarray, *, pooling: str) -> np.ndarray:
    """One probability vector from the rows of ``proba`` (the frames of a clip or a window):
    their ``mean``, or their renormalised ``geometric`` mean; NaN when there are no rows."""
    if pooling not in POOLING:
        raise ValueError(f"unknown pooling {pooling!r}; expected one of {', '.join(POOLING)}")
    if len(proba) == 0:
        return np.full(proba.shape[1], np.nan)
    if pooling == "mean":
        return proba.mean(axis=0)
    logp = np.log(np.clip(proba, 1e-12, 1.0)).mean(axis=0)
    return normalise(np.exp(logp - logp.max())[None, :])[0]


def pool_frames(proba: np.ndarray, clip_of: np.ndarray, clips: Sequence[str], *, pooling: str) -> np.ndarray:
    """Clip probabilities [shape=(len(clips), n_classes)] pooled (:func:`pool`) from frame
    probabilities [shape=(n_frames, n_classes)]; ``clip_of`` names every frame's clip."""
    out = np.full((len(clips), proba.shape[1]), np.nan)
    for i, clip in enumerate(clips):
        out[i] = pool(proba[clip_of == clip], pooling=pooling)
    return out


def fscore_weights(f1: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-class modality weights from validation F1 scores; equal where every F1 is 0.

    Parameters
    ----------
    f1 : mapping modality -> np.ndarray [shape=(n_classes,)]
    """
    stacked = np.stack([np.asarray(v, dtype=float) for v in f1.values()])
    total = stacked.sum(axis=0)
    equal = np.full_like(stacked, 1.0 / len(stacked))
    weights = np.divide(stacked, total, out=equal, where=total > 0)
    return {name: weights[i] for i, name in enumerate(f1)}


def fuse(
    proba: Mapping[str, np.ndarray], *, method: str, weights: Mapping[str, np.ndarray] | None = None
) -> np.ndarray:
    """Fused probabilities of paired samples by ``method`` in :data:`FUSION_METHODS`.

    Parameters
    ----------
    proba : mapping modality -> np.ndarray [shape=(n, n_classes)]
    weights : mapping modality -> np.ndarray [shape=(n_classes,)], for ``"fscore"``
    """
    stacked = np.stack([np.asarray(p, dtype=float) for p in proba.values()])
    if method == "fscore":
        if weights is None:
            raise ValueError("fscore fusion needs per-class weights")
        w = np.stack([np.asarray(weights[m], dtype=float) for m in proba])
        return normalise((stacked * w[:, None, :]).sum(axis=0))
    if method == "mean":
        return normalise(stacked.mean(axis=0))
    if method == "product":
        logp = np.log(np.clip(stacked, 1e-12, 1.0)).sum(axis=0)
        return normalise(np.exp(logp - logp.max(axis=1, keepdims=True)))
    raise ValueError(f"unknown fusion method {method!r}; expected one of {', '.join(FUSION_METHODS)}")


def pair_by_label(
    audio_labels: np.ndarray, face_labels: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """For every audio clip, the index of a face with the same label (simulated pairs).

    Faces are drawn without replacement while a label has unused faces, then reused.
    Clips whose label has no face get ``-1``.

    Returns
    -------
    np.ndarray [shape=(len(audio_labels),), dtype=int64]
    """
    pairs = np.full(len(audio_labels), -1, dtype=np.int64)
    for label in np.unique(audio_labels):
        clips = np.flatnonzero(audio_labels == label)
        faces = np.flatnonzero(face_labels == label)
        if faces.size == 0:
            continue
        order = rng.permutation(faces)
        reps = -(-clips.size // faces.size)
        pairs[clips] = np.concatenate([order] + [rng.permutation(faces) for _ in range(reps - 1)])[
            : clips.size
        ]
    return pairs
