"""Decoding audio from bytes (archive members), never from extracted files.

Plain 16-bit PCM WAV, what every corpus here ships, is parsed directly with NumPy: libsndfile
reads in-memory bytes through Python callbacks, which costs more than computing all the
features of a clip. Anything else (other sample formats, WAVE_FORMAT_EXTENSIBLE, FLAC, a
truncated or odd file) goes through libsndfile, which decodes or rejects it.
"""

import io
import struct
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr


class TooLong(RuntimeError):
    """Audio, or a video, longer than the caller's limit; the message says how long."""


@dataclass(frozen=True)
class AudioInfo:
    """What the manifest records from an audio header."""

    samplerate: int
    channels: int
    frames: int


@dataclass(frozen=True)
class _Pcm16:
    info: AudioInfo
    offset: int  # of the first sample in the bytes


def _pcm16(data: bytes) -> _Pcm16 | None:
    """The layout of a complete, plain PCM 16-bit WAV, or ``None`` for anything else."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    position, fmt = 12, None
    while position + 8 <= len(data):
        chunk, size = (
            data[position : position + 4],
            int.from_bytes(data[position + 4 : position + 8], "little"),
        )
        body = position + 8
        if chunk == b"fmt " and size >= 16 and body + 16 <= len(data):
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            fmt = (tag, channels, rate, bits)
        elif chunk == b"data":
            if (
                fmt is None
                or fmt[0] != 1
                or fmt[3] != 16
                or fmt[1] == 0
                or fmt[2] == 0
                or body + size > len(data)
            ):
                return None
            frames = size // (2 * fmt[1])
            return (
                _Pcm16(AudioInfo(samplerate=fmt[2], channels=fmt[1], frames=frames), body) if frames else None
            )
        position = body + size + (size & 1)
    return None


def probe_wav(data: bytes) -> AudioInfo:
    """Header of an audio file held in memory; raises ``RuntimeError`` if it is not audio."""
    pcm = _pcm16(data)
    if pcm is not None:
        return pcm.info
    try:
        info = sf.info(io.BytesIO(data))
    except sf.LibsndfileError as exc:  # subclass of RuntimeError
        raise RuntimeError(f"not readable audio ({exc})") from exc
    if info.frames == 0:
        raise RuntimeError("audio has no samples")
    return AudioInfo(samplerate=info.samplerate, channels=info.channels, frames=info.frames)


def duration_s(data: bytes) -> float:
    """Seconds of audio the file's header declares (WAV, FLAC, Ogg, MP3 through libsndfile),
    without decoding it; raises ``RuntimeError`` when libsndfile cannot read the header."""
    info = probe_wav(data)
    if info.frames >= 1 << 62:  # libsndfile's "unknown" (a FLAC stream that does not say its length)
        raise RuntimeError("the header does not say how long the audio is")
    return info.frames / info.samplerate


def decode_mono(data: bytes, *, sample_rate: int, max_seconds: float | None = None) -> np.ndarray:
    """Decode audio bytes to mono float32 at ``sample_rate``; with ``max_seconds``, decoding
    stops there and a longer file raises ``TooLong`` (whatever its header says).

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Channels are averaged (RAVDESS has stereo clips); other rates are resampled with soxr.
        Samples are bit-identical to libsndfile's float32 decoding.
    """
    pcm = _pcm16(data)
    if pcm is not None:
        info = pcm.info
        if max_seconds is not None and info.frames > max_seconds * info.samplerate:
            raise TooLong(
                f"{info.frames / info.samplerate:.1f} s of audio, over the {max_seconds:g}-second limit"
            )
        samples = np.frombuffer(data, dtype="<i2", count=info.frames * info.channels, offset=pcm.offset)
        signal, rate = (samples * np.float32(1 / 32768)).reshape(info.frames, info.channels), info.samplerate
    else:
        with sf.SoundFile(io.BytesIO(data)) as source:
            rate = source.samplerate
            limit = -1 if max_seconds is None else int(max_seconds * rate) + 1
            signal = source.read(frames=limit, dtype="float32", always_2d=True)
        if max_seconds is not None and len(signal) >= limit:
            raise TooLong(f"more than {max_seconds:g} s of audio (decoding stopped there)")
    mono = signal.mean(axis=1) if signal.shape[1] > 1 else signal[:, 0]
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(mono, dtype=np.float32)
