import librosa
import numpy as np
import pytest

from emorec.features.pitch import yin, zero_crossing_rate
from emorec.features.spectral import frame_signal

SR = 16000


def tone(f0: float, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    return (
        np.sin(2 * np.pi * f0 * t) + 0.4 * np.sin(2 * np.pi * 2 * f0 * t + 1) + 0.01 * rng.normal(size=t.size)
    ).astype(np.float32)


@pytest.mark.parametrize("f0", [65.0, 98.0, 150.0, 233.0, 310.0, 480.0])
@pytest.mark.parametrize("hop_length", [160, 256])
def test_yin_finds_the_fundamental(f0, hop_length):
    estimate = yin(frame_signal(tone(f0), frame_length=640, hop_length=hop_length), sr=SR, fmin=60, fmax=500)
    assert estimate.shape == (1 + SR // hop_length,)
    assert np.median(estimate[4:-4]) == pytest.approx(f0, rel=0.005)
    assert np.isfinite(estimate).all()


def test_yin_tracks_a_glide_like_librosa():
    t = np.arange(SR) / SR
    f = 120 + 80 * t
    y = np.sin(2 * np.pi * np.cumsum(f) / SR).astype(np.float32)
    ours = yin(frame_signal(y, frame_length=640, hop_length=256), sr=SR, fmin=60, fmax=500)
    theirs = librosa.yin(y, sr=SR, fmin=60, fmax=500, frame_length=640, hop_length=256)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours[4:-4], theirs[4:-4], rtol=0.02)


@pytest.mark.parametrize("seed", range(3))
def test_zero_crossing_rate_matches_librosa(seed):
    y = np.random.default_rng(seed).normal(size=8000).astype(np.float32)
    ours = zero_crossing_rate(frame_signal(y, frame_length=512, hop_length=128))
    theirs = librosa.feature.zero_crossing_rate(y, frame_length=512, hop_length=128)[0]
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours[4:-4], theirs[4:-4], atol=0.01)


def test_yin_of_no_frames_is_empty():
    assert yin(np.zeros((0, 640), np.float32), sr=SR, fmin=60, fmax=500).shape == (0,)


def test_frames_align_with_stft_frames():
    y = np.arange(1000, dtype=np.float32)
    frames = frame_signal(y, frame_length=256, hop_length=100)
    assert frames.shape[0] == librosa.stft(y, n_fft=256, hop_length=100).shape[1]
    assert frames[0, 128] == 0.0 and frames[1, 128] == 100.0


@pytest.mark.parametrize("n_frames", [1, 5, 9, 12])
def test_frames_can_be_counted_to_match_another_framing(n_frames):
    y = np.arange(1000, dtype=np.float32)
    frames = frame_signal(y, frame_length=587, hop_length=128, n_frames=n_frames)
    assert frames.shape == (n_frames, 587)
    assert frames[0, 293] == 0.0 and frames[-1, 293] == (
        128 * (n_frames - 1) if 128 * (n_frames - 1) < 1000 else 0.0
    )
