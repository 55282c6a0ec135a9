import librosa
import numpy as np
import pytest
import scipy.fft

from emorec.features.audio import AudioFeatureExtractor, AudioFeatureParams
from emorec.features.spectral import (
    dct_matrix,
    frame_signal,
    mel_filters,
    power_spectrum,
    savgol_weights,
    segment_deltas,
    segment_stats,
)


def noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, n).astype(np.float32)


@pytest.mark.parametrize("n_fft", [256, 512, 1024])
@pytest.mark.parametrize("hop_length", [128, 256])
def test_power_spectrum_is_librosas_stft_power(n_fft, hop_length):
    y = noise(8000)
    ours = power_spectrum(frame_signal(y, frame_length=n_fft, hop_length=hop_length))
    theirs = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length)) ** 2
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs.T, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("sample_rate", [8000, 16000, 22050, 44100])
@pytest.mark.parametrize(("n_fft", "n_mels"), [(512, 40), (512, 64), (2048, 128)])
def test_mel_filters_are_librosas(sample_rate, n_fft, n_mels):
    theirs = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)
    np.testing.assert_allclose(
        mel_filters(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels), theirs, rtol=1e-5, atol=1e-8
    )


@pytest.mark.parametrize(("n_out", "n_in"), [(1, 8), (13, 40), (20, 64)])
def test_dct_matrix_is_the_orthonormal_dct(n_out, n_in):
    x = np.random.default_rng(1).normal(size=(5, n_in))
    np.testing.assert_allclose(
        x @ dct_matrix(n_out=n_out, n_in=n_in).T,
        scipy.fft.dct(x, type=2, norm="ortho", axis=1)[:, :n_out],
        atol=1e-5,
    )


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("width", [3, 5, 9])
def test_segment_deltas_are_librosas_per_clip(order, width):
    rng = np.random.default_rng(order * 10 + width)
    clips = [rng.normal(size=(n, 4)).astype(np.float32) for n in (1, 2, 7, 30)]
    starts = np.concatenate([[0], np.cumsum([c.shape[0] for c in clips])])
    ours = segment_deltas(np.concatenate(clips), starts, order=order, width=width)
    for clip, begin, end in zip(clips, starts[:-1], starts[1:]):
        if clip.shape[0] >= width // 2 + 1:
            theirs = librosa.feature.delta(clip.T, width=width, order=order, mode="nearest").T
            np.testing.assert_allclose(ours[begin:end], theirs, atol=1e-4)
    np.testing.assert_allclose(ours[:1], 0, atol=1e-6)  # a one-frame clip has no change


@pytest.mark.parametrize(("width", "order"), [(4, 1), (1, 1), (9, 0), (5, 5)])
def test_savgol_weights_reject_bad_shapes(width, order):
    with pytest.raises(ValueError, match="width must be odd"):
        savgol_weights(width=width, order=order)


def test_segment_stats_with_and_without_mask():
    x = np.arange(10, dtype=np.float64)[:, None]
    starts = np.array([0, 4, 5, 10])
    stats = segment_stats(x, starts)
    np.testing.assert_allclose(
        stats[:, 0], [[1.5, np.std([0, 1, 2, 3]), 0, 3], [4, 0, 4, 4], [7, np.std([5, 6, 7, 8, 9]), 5, 9]]
    )
    mask = np.array([1, 0, 1, 0, 0, 1, 1, 0, 0, 0], bool)
    masked = segment_stats(x, starts, mask)
    np.testing.assert_allclose(masked[:, 0], [[1, 1, 0, 2], [0, 0, 0, 0], [5.5, 0.5, 5, 6]])


def test_a_batch_gives_each_clip_what_it_gets_alone():
    """Batching is an implementation detail: no clip's features depend on its neighbours."""
    params = AudioFeatureParams()
    extract = AudioFeatureExtractor(params)
    t = np.arange(16000) / 16000
    clips = [
        noise(300, 1),
        (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32),
        noise(40000, 2),
        np.zeros(5000, np.float32),
    ]
    descriptors, logmels = extract.batch(clips)
    for i, clip in enumerate(clips):
        alone_d, alone_m = extract(clip)
        np.testing.assert_array_equal(descriptors[i], alone_d)
        np.testing.assert_array_equal(logmels[i], alone_m)
