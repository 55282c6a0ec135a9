"""Demo RAVDESS audio-visual clips: ``Actor_XX/01-01-...mp4`` (full-AV) and ``02-01-...mp4``
(video-only) in the official naming and container (MP4 with AAC audio; the video is MPEG-4
Part 2, which FFmpeg encodes deterministically, where RAVDESS has H.264).

Each clip animates the demo's cartoon faces (:func:`emorec.demo.fer2013.render_face`) of the
clip's emotion, drifting over a lit background, and carries as its audio track the demo
speech clip of the same codes (``03-01-...wav`` from the demo speech zip): one take, as in
RAVDESS. RAVDESS' calm, which FER2013 lacks, is acted with a neutral face.
"""

import logging
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from emorec.audio_io import decode_mono
from emorec.corpora.ravdess import RavdessCode
from emorec.demo.fer2013 import render_face
from emorec.demo.ravdess import ZIP_DATE
from emorec.labels import FER2013_EMOTIONS, RAVDESS_EMOTIONS

log = logging.getLogger(__name__)

#: Unified label -> FER2013 code of the face that acts it (calm: a neutral face).
FACE_CODE = {unified: code for code, (_, unified) in FER2013_EMOTIONS.items()} | {"calm": 6}
WIDTH, HEIGHT, FPS, FACE_PX = 320, 240, 15, 144
#: A clip shows this many renders of its expression, each held for an equal share of it.
KEYFRAMES = 3


def encode_clip(
    frames: Sequence[np.ndarray], audio: np.ndarray | None, *, sample_rate: int, fps: int = FPS
) -> bytes:
    """An MP4 (MPEG-4 video yuv420p, AAC mono) of grayscale ``frames`` [shape=(h, w), uint8] and an
    optional mono float ``audio`` track."""
    # faststart (the index leads the file, so a cut-off clip is named as truncated) rewrites
    # the file on close, which needs a real file
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        _write_mp4(path, frames, audio, sample_rate=sample_rate, fps=fps)
        return path.read_bytes()


def _write_mp4(
    path: Path, frames: Sequence[np.ndarray], audio: np.ndarray | None, *, sample_rate: int, fps: int
) -> None:
    import av

    with av.open(str(path), mode="w", format="mp4", options={"movflags": "faststart"}) as container:
        # FFmpeg's own MPEG-4 encoder: libx264's output varied between runs here (3 of 32
        # clips across 4 parallel runs, even with one thread), which would move the demo metrics
        video = container.add_stream("mpeg4", rate=fps, options={"qscale": "3"})
        video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        sound = container.add_stream("aac", rate=sample_rate, layout="mono") if audio is not None else None
        for gray in frames:
            rgb = np.repeat(gray[:, :, None], 3, axis=2)
            container.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(video.encode())
        if sound is not None and audio is not None:
            samples = np.ascontiguousarray(np.clip(audio, -1, 1), dtype=np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = sample_rate
            container.mux(sound.encode(frame))
            container.mux(sound.encode())


def clip_frames(label: str, n_frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Grayscale frames of a face acting ``label``, drifting slowly across the frame."""
    import cv2

    faces = [
        cv2.resize(render_face(FACE_CODE[label], rng), (FACE_PX, FACE_PX), interpolation=cv2.INTER_CUBIC)
        for _ in range(KEYFRAMES)
    ]
    background = np.clip(
        rng.uniform(60, 160) + 30 * np.linspace(-1, 1, WIDTH)[None, :] * rng.uniform(-1, 1), 0, 255
    )
    start = rng.uniform([40, 20], [WIDTH - FACE_PX - 40, HEIGHT - FACE_PX - 20])
    drift = rng.normal(0, 0.6, 2)
    frames = []
    for i in range(n_frames):
        frame = np.repeat(background, HEIGHT, axis=0).astype(np.uint8)
        x, y = np.clip(start + drift * i, 0, [WIDTH - FACE_PX, HEIGHT - FACE_PX]).astype(int)
        frame[y : y + FACE_PX, x : x + FACE_PX] = faces[min(i * KEYFRAMES // n_frames, KEYFRAMES - 1)]
        frames.append(frame)
    return frames


def demo_video_codes(actor: int) -> list[RavdessCode]:
    """Full-AV clips of statement 01 (every emotion, intensity and repetition) and two
    video-only clips per actor."""
    full = [
        RavdessCode(1, 1, e, i, 1, r, actor)
        for e in range(1, 9)
        for i in ((1,) if e == 1 else (1, 2))
        for r in (1, 2)
    ]
    return full + [RavdessCode(2, 1, 3, 1, 1, 1, actor), RavdessCode(2, 1, 4, 2, 1, 2, actor)]


def make_demo_ravdess_video(
    *, speech_archive: str | Path, path: str | Path, actors: Sequence[int], seed: int
) -> int:
    """Write the demo video zip for ``actors`` from the demo speech zip; returns the clip count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with (
        zipfile.ZipFile(speech_archive) as speech,
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive,
    ):
        for actor in actors:
            folder = f"Actor_{actor:02d}/"
            archive.writestr(zipfile.ZipInfo(folder, ZIP_DATE), b"")
            for code in demo_video_codes(actor):
                take = RavdessCode(3, *list(vars(code).values())[1:])
                data = speech.read(f"{folder}{take.stem}.wav")
                audio = decode_mono(data, sample_rate=16000)
                rng = np.random.default_rng([seed, *(v for v in vars(code).values())])
                frames = clip_frames(RAVDESS_EMOTIONS[code.emotion], int(len(audio) / 16000 * FPS), rng)
                clip = encode_clip(
                    frames, audio if code.modality == 1 else np.zeros_like(audio), sample_rate=16000
                )
                archive.writestr(zipfile.ZipInfo(f"{folder}{code.stem}.mp4", ZIP_DATE), clip)
                written += 1
            log.info("demo RAVDESS video: actor %02d written", actor)
    return written
