"""Frame-wise pitch (YIN) and zero-crossing rate in vectorised NumPy.

librosa's ``yin`` and ``zero_crossing_rate`` use numba ``guvectorize`` kernels whose on-disk
cache races when several processes compile them at once on a cold cache (numba issues
#4807 and #10128: segfaults), which is exactly what parallel feature shards do on a fresh
install. These versions need no JIT and are faster here.
"""

import numpy as np
import scipy.fft


def frame_signal(y: np.ndarray, *, frame_length: int, hop_length: int) -> np.ndarray:
    """Centred frames of ``y`` (zero padding of ``frame_length // 2`` on both sides).

    Returns
    -------
    np.ndarray [shape=(1 + len(y) // hop_length, frame_length)]
        A read-only strided view, one frame per row (aligned with ``librosa.stft`` frames).
    """
    padded = np.pad(y, frame_length // 2)
    n_frames = 1 + (padded.size - frame_length) // hop_length
    return np.lib.stride_tricks.as_strided(
        padded, shape=(n_frames, frame_length), strides=(padded.strides[0] * hop_length, padded.strides[0]), writeable=False
    )


def zero_crossing_rate(y: np.ndarray, *, frame_length: int, hop_length: int) -> np.ndarray:
    """Share of sign changes between neighbouring samples in each frame.

    Returns
    -------
    np.ndarray [shape=(n_frames,)]
    """
    frames = frame_signal(y, frame_length=frame_length, hop_length=hop_length)
    signs = np.signbit(frames)
    return (signs[:, 1:] != signs[:, :-1]).mean(axis=1)


def yin(y: np.ndarray, *, sr: int, fmin: float, fmax: float, frame_length: int, hop_length: int, threshold: float = 0.1) -> np.ndarray:
    """Fundamental frequency per frame by YIN (de Cheveigné & Kawahara, 2002).

    The cumulative-mean-normalised difference function is computed for all frames at once
    with FFT correlations; the period is the first local minimum below ``threshold`` in the
    allowed range (else the global minimum), refined by parabolic interpolation.

    Returns
    -------
    np.ndarray [shape=(n_frames,)]
        f0 in Hz, within ``[fmin, fmax]`` up to interpolation.
    """
    frames = frame_signal(np.asarray(y, dtype=np.float64), frame_length=frame_length, hop_length=hop_length)
    min_period = max(1, int(np.floor(sr / fmax)))
    max_period = min(int(np.ceil(sr / fmin)), frame_length - 2)
    window = frame_length - max_period
    n_fft = scipy.fft.next_fast_len(frame_length + window, real=True)  # no circular wrap
    spectrum = scipy.fft.rfft(frames, n_fft, axis=1)
    head = scipy.fft.rfft(frames[:, :window], n_fft, axis=1)
    cross = scipy.fft.irfft(spectrum * np.conj(head), n_fft, axis=1)[:, : max_period + 1]
    power = np.concatenate([np.zeros((frames.shape[0], 1)), np.cumsum(frames**2, axis=1)], axis=1)
    lags = np.arange(max_period + 1)
    shifted_energy = power[:, lags + window] - power[:, lags]
    diff = np.maximum(power[:, [window]] + shifted_energy - 2 * cross, 0.0)
    cumulative = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * lags[1:] / np.maximum(cumulative, 1e-12)

    search = cmnd[:, min_period : max_period + 1]
    interior = np.zeros_like(search, dtype=bool)
    interior[:, 1:-1] = (search[:, 1:-1] < search[:, :-2]) & (search[:, 1:-1] <= search[:, 2:])
    candidate = interior & (search < threshold)
    first = np.where(candidate.any(axis=1), candidate.argmax(axis=1), search.argmin(axis=1))
    rows = np.arange(search.shape[0])
    left = search[rows, np.clip(first - 1, 0, search.shape[1] - 1)]
    centre = search[rows, first]
    right = search[rows, np.clip(first + 1, 0, search.shape[1] - 1)]
    curvature = left - 2 * centre + right
    shift = np.divide(left - right, 2 * curvature, out=np.zeros_like(centre), where=np.abs(curvature) > 1e-12)
    period = min_period + first + np.clip(shift, -1, 1)
    return sr / period
