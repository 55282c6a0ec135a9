"""Frame-wise pitch (YIN) and zero-crossing rate in vectorised NumPy, on frames of many clips.

They agree with librosa's ``yin`` and ``zero_crossing_rate`` (see the tests) without numba:
librosa's ``guvectorize`` kernels cost about 2 s of start-up per process, and their on-disk
cache races when parallel shard jobs compile them at once on a fresh install (numba issues
#4807 and #10128: segfaults). These take frames, so silent frames can be skipped.
"""

import numpy as np
import scipy.fft


def zero_crossing_rate(frames: np.ndarray) -> np.ndarray:
    """Share of sign changes between neighbouring samples in each frame.

    Parameters
    ----------
    frames : np.ndarray [shape=(n_frames, frame_length)]

    Returns
    -------
    np.ndarray [shape=(n_frames,)]
    """
    signs = np.signbit(frames)
    return (signs[:, 1:] != signs[:, :-1]).mean(axis=1)


def yin(frames: np.ndarray, *, sr: int, fmin: float, fmax: float, threshold: float = 0.1) -> np.ndarray:
    """Fundamental frequency per frame by YIN (de Cheveigné & Kawahara, 2002).

    The cumulative-mean-normalised difference function is computed for all frames at once
    with FFT correlations; the period is the first local minimum below ``threshold`` in the
    allowed range (else the global minimum), refined by parabolic interpolation.

    Parameters
    ----------
    frames : np.ndarray [shape=(n_frames, frame_length)]
        ``frame_length`` must exceed two periods of ``fmin``.

    Returns
    -------
    np.ndarray [shape=(n_frames,), dtype=float32]
        f0 in Hz, within ``[fmin, fmax]`` up to interpolation.
    """
    frames = np.asarray(frames, dtype=np.float32)
    n_frames, frame_length = frames.shape
    min_period = max(1, int(np.floor(sr / fmax)))
    max_period = min(int(np.ceil(sr / fmin)), frame_length - 2)
    if n_frames == 0:
        return np.zeros(0, dtype=np.float32)
    window = frame_length - max_period
    # lags <= max_period of the first ``window`` samples never reach past the frame: no wrap
    n_fft = scipy.fft.next_fast_len(frame_length, real=True)
    # d(tau) = e(0) + e(tau) - 2 r(tau): e(tau) the energy of samples tau..tau+window, r(tau)
    # the correlation of the first window with them; e and r from one inverse FFT
    box = np.conj(scipy.fft.rfft(np.ones(window, dtype=np.float32), n_fft))
    spectrum = scipy.fft.rfft(frames, n_fft, axis=1)
    correlation = np.conj(scipy.fft.rfft(frames[:, :window], n_fft, axis=1))
    correlation *= spectrum
    correlation *= -2
    energy = scipy.fft.rfft(frames * frames, n_fft, axis=1)
    energy *= box
    correlation += energy
    diff = scipy.fft.irfft(correlation, n_fft, axis=1)[:, : max_period + 1]
    diff += np.einsum("ij,ij->i", frames[:, :window], frames[:, :window])[:, None]
    np.maximum(diff, 0.0, out=diff)
    lags = np.arange(max_period + 1, dtype=np.float32)
    # cumulative-mean-normalised difference, only where the period is searched (lag 0 is 1)
    running = np.cumsum(diff[:, 1:], axis=1)[:, min_period - 1 :]
    np.maximum(running, 1e-12, out=running)
    search = diff[:, min_period:] * lags[min_period:]
    search /= running
    interior = np.zeros_like(search, dtype=bool)
    interior[:, 1:-1] = (search[:, 1:-1] < search[:, :-2]) & (search[:, 1:-1] <= search[:, 2:])
    candidate = interior & (search < threshold)
    first = np.where(candidate.any(axis=1), candidate.argmax(axis=1), search.argmin(axis=1))
    rows = np.arange(n_frames)
    left = search[rows, np.clip(first - 1, 0, search.shape[1] - 1)]
    centre = search[rows, first]
    right = search[rows, np.clip(first + 1, 0, search.shape[1] - 1)]
    curvature = left - 2 * centre + right
    shift = np.divide(left - right, 2 * curvature, out=np.zeros_like(centre), where=np.abs(curvature) > 1e-12)
    period = min_period + first + np.clip(shift, -1, 1)
    return (sr / period).astype(np.float32)
