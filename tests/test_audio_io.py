import io

import numpy as np
import pytest
import soundfile as sf

from emorec.audio_io import AudioInfo, decode_mono, probe_wav


def encode(signal: np.ndarray, rate: int, subtype: str, fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, signal, rate, subtype=subtype, format=fmt)
    return buffer.getvalue()


def libsndfile_mono(data: bytes) -> tuple[np.ndarray, int]:
    signal, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return signal.mean(axis=1), rate


FORMATS = [
    (fmt, subtype) for fmt in ("WAV", "WAVEX") for subtype in ("PCM_16", "PCM_24", "PCM_U8", "FLOAT")
] + [("FLAC", "PCM_16"), ("FLAC", "PCM_24")]


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize(("fmt", "subtype"), FORMATS)
def test_decoding_is_libsndfiles_bit_for_bit(channels, fmt, subtype):
    rng = np.random.default_rng(channels)
    signal = np.clip(rng.normal(0, 0.3, (3001, channels)), -1, 1).astype(np.float32)
    data = encode(signal, 16000, subtype, fmt)
    theirs, rate = libsndfile_mono(data)
    np.testing.assert_array_equal(decode_mono(data, sample_rate=rate), theirs)
    assert probe_wav(data) == AudioInfo(samplerate=16000, channels=channels, frames=3001)


def test_odd_chunks_before_the_data_are_skipped():
    data = encode(np.zeros((10, 1), np.float32) + 0.5, 8000, "PCM_16")
    extra = b"LIST" + (3).to_bytes(4, "little") + b"abc\0"  # odd size, padded
    fmt_end = 12 + 8 + int.from_bytes(data[16:20], "little")
    patched = (
        data[:4]
        + (int.from_bytes(data[4:8], "little") + len(extra)).to_bytes(4, "little")
        + data[8:fmt_end]
        + extra
        + data[fmt_end:]
    )
    np.testing.assert_array_equal(decode_mono(patched, sample_rate=8000), np.full(10, 0.5, np.float32))
    assert probe_wav(patched).frames == 10


@pytest.mark.parametrize("cut", [10, 44])
def test_files_without_samples_are_not_audio(cut):
    data = encode(np.zeros((100, 1), np.float32), 8000, "PCM_16")[:cut]
    with pytest.raises(RuntimeError):
        probe_wav(data)


def test_a_truncated_data_chunk_is_left_to_libsndfile():
    data = encode(np.full((100, 1), 0.25, np.float32), 8000, "PCM_16")[:60]  # 8 of 100 samples
    assert probe_wav(data) == AudioInfo(samplerate=8000, channels=1, frames=8)
    np.testing.assert_array_equal(decode_mono(data, sample_rate=8000), libsndfile_mono(data)[0])


def test_other_rates_are_resampled():
    t = np.arange(4410) / 44100
    data = encode((0.5 * np.sin(2 * np.pi * 440 * t))[:, None], 44100, "PCM_16")
    y = decode_mono(data, sample_rate=16000)
    assert y.dtype == np.float32 and y.size == 1600
