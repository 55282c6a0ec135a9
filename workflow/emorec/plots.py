"""Figures people would rather look at than read: confusion heatmaps and per-class F1 bars.

Matplotlib's Agg backend only (no display, safe in parallel jobs); PNGs are written with
fixed metadata so the same numbers give the same bytes.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

#: PNG metadata without the Matplotlib version or a timestamp.
_PNG_METADATA = {"Software": None}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_png(matrix: np.ndarray, labels: Sequence[str], path: str | Path, *, title: str) -> None:
    """Row-normalised confusion heatmap (recall per actual class), annotated with % and counts.

    Parameters
    ----------
    matrix : np.ndarray [shape=(k, k)]
        Counts ``[actual, predicted]``.
    """
    plt = _pyplot()
    counts = np.asarray(matrix)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    k = len(labels)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * k, 0.8 + 0.7 * k), dpi=100)
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(k):
        for j in range(k):
            colour = "white" if share[i, j] > 0.6 else "black"
            ax.text(
                j, i, f"{share[i, j]:.0%}\n{counts[i, j]}", ha="center", va="center", fontsize=7, color=colour
            )
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of actual class")
    fig.tight_layout()
    _save(fig, path)


def f1_bars_png(f1: Mapping[str, np.ndarray], labels: Sequence[str], path: str | Path, *, title: str) -> None:
    """Grouped bars of per-class F1, one group per class and one bar per method."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(labels), 3.6), dpi=100)
    width = 0.8 / max(len(f1), 1)
    x = np.arange(len(labels))
    for i, (name, values) in enumerate(f1.items()):
        ax.bar(x + (i - (len(f1) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1 (test pairs)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, ncols=len(f1), loc="upper center", bbox_to_anchor=(0.5, -0.25))
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata=_PNG_METADATA)
    _pyplot().close(fig)
