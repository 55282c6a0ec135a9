"""The unified emotion label space and each corpus' mapping into it.

The unified order is RAVDESS' (emotion codes 01..08), so label ids are stable across corpora.
"""

from typing import Final

LABELS: Final[tuple[str, ...]] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)
LABEL_ID: Final[dict[str, int]] = {name: i for i, name in enumerate(LABELS)}

#: RAVDESS emotion code (filename field 3) -> unified label.
RAVDESS_EMOTIONS: Final[dict[int, str]] = {i + 1: name for i, name in enumerate(LABELS)}

#: FER2013 ``emotion`` column -> (original name, unified label).
FER2013_EMOTIONS: Final[dict[int, tuple[str, str]]] = {
    0: ("angry", "angry"),
    1: ("disgust", "disgust"),
    2: ("fear", "fearful"),
    3: ("happy", "happy"),
    4: ("sad", "sad"),
    5: ("surprise", "surprised"),
    6: ("neutral", "neutral"),
}


def label_id(label: str) -> int:
    """Index of ``label`` in :data:`LABELS`; raises ``KeyError`` naming the label otherwise."""
    try:
        return LABEL_ID[label]
    except KeyError:
        raise KeyError(f"unknown emotion label {label!r}; expected one of {', '.join(LABELS)}") from None
