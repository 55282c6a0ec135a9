"""Decoding audio from bytes (archive members), never from extracted files."""

import io

import numpy as np
import soundfile as sf
import soxr


def probe_wav(data: bytes) -> sf._SoundFileInfo:
    """Header of an audio file held in memory; raises ``RuntimeError`` if it is not audio."""
    try:
        info = sf.info(io.BytesIO(data))
    except sf.LibsndfileError as exc:  # subclass of RuntimeError
        raise RuntimeError(f"not readable audio ({exc})") from exc
    if info.frames == 0:
        raise RuntimeError("audio has no samples")
    return info


def decode_mono(data: bytes, *, sample_rate: int) -> np.ndarray:
    """Decode audio bytes to mono float32 at ``sample_rate``.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Channels are averaged (RAVDESS has stereo clips); other rates are resampled with soxr.
    """
    signal, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    mono = signal.mean(axis=1)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(mono, dtype=np.float32)
