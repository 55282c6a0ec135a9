"""openSMILE's eGeMAPS v02 utterance functionals: 88 descriptors per clip.

The extended Geneva Minimalistic Acoustic Parameter Set (Eyben et al. 2016) was chosen by
affective-computing researchers for its cross-corpus robustness: pitch, jitter, shimmer,
loudness, harmonics-to-noise ratio, formants, spectral slopes and MFCC 1-4, with their
means, spreads and percentiles. The ``opensmile`` package ships its own extractor binary,
so nothing is downloaded. Its columns are named ``egemaps_<openSMILE name>``.
"""

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

#: Prefix of the eGeMAPS descriptor columns in the audio feature table.
PREFIX = "egemaps_"


@lru_cache(maxsize=1)
def _smile() -> Any:
    import opensmile

    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals
    )


def egemaps_names() -> list[str]:
    """The 88 column names, in openSMILE's order."""
    return [PREFIX + name for name in _smile().feature_names]


def egemaps(clips: Sequence[np.ndarray], *, sample_rate: int) -> np.ndarray:
    """eGeMAPS functionals of mono clips.

    Parameters
    ----------
    clips : sequence of np.ndarray [shape=(n,), dtype=float32]
    sample_rate : int

    Returns
    -------
    np.ndarray [shape=(len(clips), 88), dtype=float32]
    """
    smile = _smile()
    out = np.zeros((len(clips), len(smile.feature_names)), dtype=np.float32)
    for i, y in enumerate(clips):
        out[i] = smile.process_signal(np.asarray(y, dtype=np.float32), sample_rate).to_numpy()[0]
    return out
