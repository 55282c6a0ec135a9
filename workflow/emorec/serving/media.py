"""What a file handed to ``emorec predict`` or the upload page is, told from its bytes.

The name's extension is never trusted: a text file renamed ``.wav`` is refused as what it
is. Audio is decoded as the pipeline decodes corpus clips (:func:`emorec.audio_io.decode_mono`:
WAV, FLAC, Ogg, MP3 through libsndfile), with PyAV's FFmpeg for the rest (M4A/AAC, ...);
images through OpenCV; videos are containers with a video stream (MP4, MKV, AVI, ...).
"""

import numpy as np

from emorec.audio_io import decode_mono
from emorec.errors import EmorecError
from emorec.video_io import decode_audio_track, probe_video

KINDS = ("audio", "image", "video")
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM", b"GIF87a", b"GIF89a")
_AUDIO_MAGIC = (b"fLaC", b"OggS", b"ID3")


class MediaError(EmorecError):
    """A file that is not usable audio, an image or a video; the message says why."""


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
    what = "text" if _looks_like_text(data) else "unrecognised binary data"
    raise MediaError(f"not a supported audio, image or video file (the content is {what})")


def read_audio(data: bytes, *, sample_rate: int) -> np.ndarray:
    """Mono float32 samples at ``sample_rate``, whatever the format, rate or channel count."""
    try:
        return decode_mono(data, sample_rate=sample_rate)
    except RuntimeError:  # libsndfile's errors; FFmpeg reads the rest
        pass
    try:
        return decode_audio_track(data, sample_rate=sample_rate)
    except RuntimeError as exc:
        raise MediaError(f"unreadable audio ({exc})") from exc


def read_gray_image(data: bytes) -> np.ndarray:
    """A grayscale image [shape=(h, w), dtype=uint8] of any size."""
    import cv2

    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None or image.size == 0:
        raise MediaError("unreadable image (corrupt or an unsupported encoding)")
    return image
