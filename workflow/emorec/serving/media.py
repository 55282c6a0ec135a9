"""What a file handed to ``emorec predict`` or the upload page is, told from its bytes.

The name's extension is never trusted: a text file renamed ``.wav`` is refused as what it
is. Audio is decoded as the pipeline decodes corpus clips (:func:`emorec.audio_io.decode_mono`:
WAV, FLAC, Ogg, MP3 through libsndfile), with PyAV's FFmpeg for the rest (M4A/AAC, ...);
images through OpenCV; videos are containers with a video stream (MP4, MKV, AVI, ...).

Nothing is decoded before its size is known to be within :class:`Limits`: an audio file's
duration, an image's pixels and a video's duration and frames come from the headers, and
where a header says nothing (or lies) decoding stops at the limit. A 1.7 MB FLAC declaring
three hours of silence, or a small PNG declaring 20000 x 20000 pixels, is refused in
milliseconds with :class:`OverLimit` instead of growing to gigabytes.
"""

import io
from dataclasses import dataclass

import numpy as np

from emorec.audio_io import TooLong, decode_mono, duration_s
from emorec.errors import EmorecError
from emorec.video_io import decode_audio_track, header, probe_video

KINDS = ("audio", "image", "video")
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"GIF87a", b"GIF89a")
_AUDIO_MAGIC = (b"fLaC", b"OggS", b"ID3")


class MediaError(EmorecError):
    """A file that is not usable audio, an image or a video; the message says why."""


class OverLimit(MediaError):
    """Usable media, but larger than :class:`Limits` allow (HTTP 422); the message says which limit."""


@dataclass(frozen=True)
class Limits:
    """The most one prediction may read (params ``serving``): each is checked from the
    file's header before decoding, and decoding stops at it where the header is silent."""

    audio_s: float = 60.0
    image_pixels: int = 40_000_000
    video_s: float = 60.0
    video_frames: int = 2000

    @classmethod
    def of(cls, serving: dict) -> "Limits":
        """The limits in params' ``serving`` section."""
        return cls(
            audio_s=float(serving["max_audio_s"]),
            image_pixels=int(serving["max_image_pixels"]),
            video_s=float(serving["max_video_s"]),
            video_frames=int(serving["max_video_frames"]),
        )


def check_audio(data: bytes, limits: Limits) -> None:
    """Refuse audio whose header declares more than ``limits.audio_s`` (headers libsndfile
    cannot read are left to the bounded decoder)."""
    try:
        seconds = duration_s(data)
    except RuntimeError:
        return
    if seconds > limits.audio_s:
        raise OverLimit(
            f"{seconds:.0f} s of audio, over the {limits.audio_s:g}-second limit (serving.max_audio_s)"
        )


def check_image(data: bytes, limits: Limits) -> None:
    """Refuse an image whose header declares more than ``limits.image_pixels`` pixels, or
    whose header cannot be read (Pillow reads it without decoding the pixels). This limit
    replaces Pillow's own decompression-bomb check in this process."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception as exc:  # Pillow raises many types for broken headers (SyntaxError for a bad CRC)
        raise MediaError(f"unreadable image ({exc or type(exc).__name__})") from exc
    if width * height > limits.image_pixels:
        raise OverLimit(
            f"a {width} x {height} image, over the {limits.image_pixels:,}-pixel limit (serving.max_image_pixels)"
        )


def check_video(data: bytes, limits: Limits) -> None:
    """Refuse a clip whose container declares more than the limits: duration, frames, or
    pixels per frame."""
    try:
        info = header(data)
    except RuntimeError as exc:
        raise MediaError(str(exc)) from exc
    if info.duration_s > limits.video_s:
        raise OverLimit(
            f"a {info.duration_s:.0f}-second video, over the {limits.video_s:g}-second limit (serving.max_video_s)"
        )
    if info.frames > limits.video_frames:
        raise OverLimit(
            f"a video of {info.frames} frames, over the {limits.video_frames}-frame limit (serving.max_video_frames)"
        )
    if info.width * info.height > limits.image_pixels:
        raise OverLimit(
            f"{info.width} x {info.height} video frames, over the {limits.image_pixels:,}-pixel limit (serving.max_image_pixels)"
        )


def _looks_like_text(data: bytes) -> bool:
    head = data[:512]
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c >= 32 or c in (9, 10, 13) for c in head)


def _container_kind(data: bytes) -> str:
    """``video`` for a container with a video stream, ``audio`` for an audio-only one (M4A)."""
    try:
        probe_video(data)
    except RuntimeError as exc:
        if str(exc).startswith("no video stream"):
            return "audio"
        raise MediaError(str(exc)) from exc
    return "video"


def sniff(data: bytes) -> str:
    """The kind of media in ``data``: one of :data:`KINDS`.

    Raises
    ------
    MediaError
        For empty, text or otherwise unrecognised content, and broken containers.
    """
    if len(data) < 16:
        raise MediaError("empty or too short to be audio, an image or a video" if data else "empty file")
    if data[:4] == b"RIFF":
        kind = {b"WAVE": "audio", b"AVI ": "video", b"WEBP": "image"}.get(data[8:12])
        if kind:
            return kind if kind != "video" else _container_kind(data)
    if data.startswith(_IMAGE_MAGIC):
        return "image"
    if data.startswith(_AUDIO_MAGIC) or (data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio"  # FLAC, Ogg, MP3 (ID3 tag or frame sync), ADTS AAC
    if data[4:8] == b"ftyp" or data.startswith(b"\x1a\x45\xdf\xa3"):
        return _container_kind(data)  # MP4 / MOV / M4A, Matroska / WebM
    if not _looks_like_text(data):
        try:  # any other container FFmpeg reads (FLV, MPEG-TS, AVI, ...): let it probe
            return _container_kind(data)
        except MediaError:
            pass
    what = "text" if _looks_like_text(data) else "unrecognised binary data"
    raise MediaError(f"not a supported audio, image or video file (the content is {what})")


def check(data: bytes, limits: Limits) -> str:
    """The kind of media in ``data`` (:func:`sniff`), refused when its header declares more
    than ``limits``: milliseconds, nothing decoded."""
    kind = sniff(data)
    {"audio": check_audio, "image": check_image, "video": check_video}[kind](data, limits)
    return kind


def read_audio(data: bytes, *, sample_rate: int, limits: Limits = Limits()) -> np.ndarray:
    """Mono float32 samples at ``sample_rate``, whatever the format, rate or channel count,
    no longer than ``limits.audio_s``."""
    check_audio(data, limits)
    for decode in (decode_mono, decode_audio_track):  # libsndfile, then FFmpeg for what it cannot read
        try:
            return decode(data, sample_rate=sample_rate, max_seconds=limits.audio_s)
        except TooLong as exc:
            raise OverLimit(f"{exc} (serving.max_audio_s)") from exc
        except RuntimeError as exc:
            failure = exc
    raise MediaError(f"unreadable audio ({failure})") from failure


def read_gray_image(data: bytes, limits: Limits = Limits()) -> np.ndarray:
    """A grayscale image [shape=(h, w), dtype=uint8] of at most ``limits.image_pixels``."""
    import cv2

    check_image(data, limits)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None or image.size == 0:
        raise MediaError("unreadable image (corrupt or an unsupported encoding)")
    return image
