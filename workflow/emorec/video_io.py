"""Decoding video clips from bytes (archive members) with PyAV, which ships its own FFmpeg.

:func:`probe_video` demuxes a clip without decoding it, so ingest can name a corrupt or
truncated container cheaply; :func:`sample_frames` decodes the frames a sampling rule keeps;
:func:`decode_audio_track` turns a clip's own audio stream into the mono signal the audio
features read.
"""

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import soxr

from emorec.audio_io import TooLong

#: Fewer demuxed video packets than this share of the declared frames means a cut-off file.
MIN_PACKET_SHARE = 0.95


@dataclass(frozen=True)
class VideoInfo:
    """What the video manifest records from a container."""

    duration_s: float
    fps: float
    width: int
    height: int
    frames: int
    has_audio: bool


def _open(data: bytes):
    import av

    try:
        return av.open(io.BytesIO(data), mode="r")
    except av.FFmpegError as exc:
        # An MP4 cut short before its index (moov atom at the end) fails here too
        raise RuntimeError(
            f"not a readable video container: corrupt, truncated or not a video ({exc.strerror or exc})"
        ) from exc


def probe_video(data: bytes) -> VideoInfo:
    """Header facts of a clip held in memory, checked by demuxing every packet.

    Raises
    ------
    RuntimeError
        Naming why the clip is unusable: not a container, no video stream, or truncated
        (fewer packets than the header declares, or a demuxing error part-way).
    """
    import av

    with _open(data) as container:
        if not container.streams:
            raise RuntimeError("no readable streams: a corrupt or truncated container")
        if not container.streams.video:
            raise RuntimeError("no video stream (audio-only container?)")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        if not fps or not stream.width:
            raise RuntimeError("video stream has no frame rate or frame size")
        packets = 0
        try:
            for packet in container.demux(stream):
                packets += packet.size > 0
        except av.FFmpegError as exc:
            raise RuntimeError(
                f"corrupt or truncated container after {packets} video packets ({exc.strerror or exc})"
            ) from exc
        declared = int(stream.frames or 0)
        if packets == 0:
            raise RuntimeError("video stream has no frames")
        if declared and packets < MIN_PACKET_SHARE * declared:
            raise RuntimeError(f"truncated container: {packets} of {declared} declared video frames present")
        duration = float(stream.duration * stream.time_base) if stream.duration else packets / fps
        return VideoInfo(
            duration_s=duration,
            fps=fps,
            width=int(stream.width),
            height=int(stream.height),
            frames=declared or packets,
            has_audio=bool(container.streams.audio),
        )


def header(data: bytes) -> VideoInfo:
    """What the container's header declares (duration, rate, frame size, frame count; 0 where
    it says nothing), without demuxing or decoding: enough to refuse a clip over a limit."""
    with _open(data) as container:
        if not container.streams.video:
            raise RuntimeError("no video stream (audio-only container?)")
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        duration = (
            float(stream.duration * stream.time_base) if stream.duration else (container.duration or 0) / 1e6
        )
        return VideoInfo(
            duration_s=duration,
            fps=fps,
            width=int(stream.width or 0),
            height=int(stream.height or 0),
            frames=int(stream.frames or 0),
            has_audio=bool(container.streams.audio),
        )


def sample_frames(
    data: bytes, *, every: int, max_frames: int | None = None
) -> Iterator[tuple[int, float, np.ndarray]]:
    """``(frame index, time in s, grayscale frame [shape=(h, w), dtype=uint8])`` of every
    ``every``-th decoded frame, from the first. H.264 needs every frame decoded anyway; only
    the kept ones are converted. With ``max_frames``, a clip with more frames raises
    ``TooLong`` when decoding reaches the limit, whatever its header said."""
    with _open(data) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if max_frames is not None and index >= max_frames:
                raise TooLong(f"more than {max_frames} video frames (decoding stopped there)")
            if index % every == 0:
                seconds = (
                    float(frame.pts * stream.time_base)
                    if frame.pts is not None
                    else index / float(stream.average_rate)
                )
                yield index, seconds, frame.to_ndarray(format="gray")


def _planar_float(frame) -> np.ndarray:
    """One audio frame as float32 [shape=(channels, n)] in [-1, 1], whatever its sample format."""
    samples = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        samples = samples.reshape(-1, channels).T
    if np.issubdtype(samples.dtype, np.integer):
        return (samples / float(-np.iinfo(samples.dtype).min)).astype(np.float32)
    return samples.astype(np.float32, copy=False)


def decode_audio_track(data: bytes, *, sample_rate: int, max_seconds: float | None = None) -> np.ndarray:
    """The clip's first audio stream as mono float32 at ``sample_rate`` (channels averaged,
    resampled with soxr as :func:`emorec.audio_io.decode_mono` does). With ``max_seconds``
    a longer track raises ``TooLong`` as soon as decoding passes the limit.

    Raises
    ------
    RuntimeError
        When the container has no audio stream or it decodes to nothing.
    """
    with _open(data) as container:
        if not container.streams.audio:
            raise RuntimeError("no audio stream")
        stream = container.streams.audio[0]
        rate = int(stream.rate)
        limit = None if max_seconds is None else max_seconds * rate
        chunks, decoded = [], 0
        for frame in container.decode(stream):
            chunks.append(_planar_float(frame))
            decoded += chunks[-1].shape[1]
            if limit is not None and decoded > limit:
                raise TooLong(f"more than {max_seconds:g} s of audio (decoding stopped there)")
    if not chunks:
        raise RuntimeError("audio stream has no samples")
    signal = np.concatenate(chunks, axis=1)
    mono = signal.mean(axis=0) if signal.shape[0] > 1 else signal[0]
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)
