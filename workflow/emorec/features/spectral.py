"""Spectral building blocks in NumPy/SciPy: frames, power spectra, mel filters, DCT, and the
per-clip operations on the frames of many clips laid one after another (deltas, statistics,
products).

They compute what ``librosa`` computes (the tests check agreement), for two reasons: they
work on the frames of many clips at once, and importing librosa's feature modules costs
about 2 s of numba start-up in every process, which every feature shard job would pay.
"""

import math
from itertools import pairwise

import numpy as np
import scipy.fft


def frame_signal(
    y: np.ndarray, *, frame_length: int, hop_length: int, n_frames: int | None = None
) -> np.ndarray:
    """Centred frames of ``y`` (zero padding of ``frame_length // 2`` on both sides).

    Parameters
    ----------
    n_frames : int, optional
        How many frames to take (more zero padding at the end if needed); by default
        ``1 + len(y) // hop_length`` for an even ``frame_length``.

    Returns
    -------
    np.ndarray [shape=(n_frames, frame_length)]
        A read-only strided view, one frame per row (aligned with ``librosa.stft`` frames).
    """
    half = frame_length // 2
    if n_frames is None:
        n_frames = 1 + (y.size + 2 * half - frame_length) // hop_length
    padded = np.pad(y, (half, max(half, (n_frames - 1) * hop_length + frame_length - half - y.size)))
    return np.lib.stride_tricks.as_strided(
        padded,
        shape=(n_frames, frame_length),
        strides=(padded.strides[0] * hop_length, padded.strides[0]),
        writeable=False,
    )


def power_spectrum(frames: np.ndarray) -> np.ndarray:
    """Power spectra of Hann-windowed frames (``|librosa.stft|**2``, frame per row).

    Returns
    -------
    np.ndarray [shape=(n_frames, frame_length // 2 + 1), dtype=float32]
    """
    n = frames.shape[1]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)  # periodic Hann
    spectrum = scipy.fft.rfft(frames * window, axis=1)
    return spectrum.real**2 + spectrum.imag**2


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27), linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27) * (mel - 15.0)), mel * (200.0 / 3))


def mel_filters(*, sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular, area-normalised mel filters from 0 Hz to Nyquist (``librosa.filters.mel``).

    Returns
    -------
    np.ndarray [shape=(n_mels, n_fft // 2 + 1), dtype=float32]
    """
    fft_hz = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(rising, falling)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def dct_matrix(*, n_out: int, n_in: int) -> np.ndarray:
    """The first ``n_out`` rows of the orthonormal DCT-II (``scipy.fft.dct(norm="ortho")``).

    Returns
    -------
    np.ndarray [shape=(n_out, n_in), dtype=float32]
    """
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    basis = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


def savgol_weights(*, width: int, order: int) -> np.ndarray:
    """Weights of the Savitzky-Golay estimate of the ``order``-th derivative (polynomial of
    degree ``order`` fitted over ``width`` frames), as ``librosa.feature.delta`` uses them.

    Returns
    -------
    np.ndarray [shape=(width,)]
        ``sum(w[j] * x[t - width // 2 + j])`` is the derivative at ``t``.
    """
    if width < 3 or width % 2 == 0 or order < 1 or order >= width:
        raise ValueError(
            f"width must be odd and >= 3 and 1 <= order < width (got width={width}, order={order})"
        )
    offsets = np.arange(width) - width // 2
    vandermonde = offsets[:, None] ** np.arange(order + 1)[None, :]
    return math.factorial(order) * np.linalg.pinv(vandermonde)[order]


def segment_ids(starts: np.ndarray) -> np.ndarray:
    """The clip each frame belongs to, for frames of clips laid one after another.

    Returns
    -------
    np.ndarray [shape=(starts[-1],)]
        ``i`` for every frame from ``starts[i]`` up to ``starts[i + 1]``.
    """
    return np.repeat(np.arange(starts.size - 1), np.diff(starts))


def segment_deltas(x: np.ndarray, starts: np.ndarray, *, order: int, width: int = 9) -> np.ndarray:
    """Per-segment derivatives along frames, edges padded by the nearest frame of the segment.

    Parameters
    ----------
    x : np.ndarray [shape=(n_frames, d)]
        Frames of several clips one after another.
    starts : np.ndarray [shape=(n_clips + 1,)]
        Offset of each clip's first frame, then ``n_frames``.

    Returns
    -------
    np.ndarray [shape=(n_frames, d), dtype=float32]
        ``librosa.feature.delta(clip.T, order=order, width=width, mode="nearest").T`` per clip.
    """
    clip = segment_ids(starts)
    offsets = np.arange(width) - width // 2
    neighbours = np.clip(
        np.arange(x.shape[0])[:, None] + offsets[None, :], starts[clip, None], starts[clip + 1, None] - 1
    )
    return np.einsum(
        "fwd,w->fd", x[neighbours], savgol_weights(width=width, order=order).astype(np.float32)
    ).astype(np.float32)


def segment_stats(x: np.ndarray, starts: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """mean, std, min, max of each clip's frames (only those in ``mask``); zeros if none.

    Parameters
    ----------
    x : np.ndarray [shape=(n_frames, k)]
        Frames of several clips one after another.
    starts : np.ndarray [shape=(n_clips + 1,)]
        Offset of each clip's first frame, then ``n_frames``; every clip has a frame.
    mask : np.ndarray [shape=(n_frames,), dtype=bool], optional

    Returns
    -------
    np.ndarray [shape=(n_clips, k, 4), dtype=float64]
        In :data:`emorec.tables.STATS` order.
    """
    x = np.asarray(x, dtype=np.float64)
    keep = np.ones(x.shape[0], dtype=bool) if mask is None else mask
    clip = segment_ids(starts)
    count = np.add.reduceat(keep.astype(np.float64), starts[:-1])[:, None]
    kept = keep[:, None]
    mean = np.add.reduceat(np.where(kept, x, 0.0), starts[:-1]) / np.maximum(count, 1)
    var = np.add.reduceat(np.where(kept, x - mean[clip], 0.0) ** 2, starts[:-1]) / np.maximum(count, 1)
    low = np.minimum.reduceat(np.where(kept, x, np.inf), starts[:-1])
    high = np.maximum.reduceat(np.where(kept, x, -np.inf), starts[:-1])
    stats = np.stack([mean, np.sqrt(var), low, high], axis=-1)
    stats[count[:, 0] == 0] = 0.0
    return stats


def clipwise_matmul(x: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """``x @ weights`` one clip's frames at a time.

    BLAS picks its kernels by matrix shape, so a clip's product could differ in the last bit
    with other clips batched beside it; per clip, a clip's features never depend on its
    neighbours (nor on how many shards there are).
    """
    out = np.empty((x.shape[0], *weights.shape[1:]), dtype=np.result_type(x, weights))
    for begin, end in pairwise(starts):
        np.matmul(x[begin:end], weights, out=out[begin:end])
    return out
