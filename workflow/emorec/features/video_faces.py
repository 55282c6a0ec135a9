"""Video clips -> sampled frames -> the largest detected face -> 48x48 crops like FER2013's.

The detector is OpenCV's frontal-face Haar cascade, shipped inside ``opencv-python-headless``
(nothing downloads). Frames are sampled every ``every``-th, detected at a reduced size
(``detect_side`` pixels on the long side), and the largest face is cropped square with a
``margin``, converted to grayscale, resized to 48x48 and, like the FER2013 faces, optionally
histogram-equalised, so the face models apply unchanged.
"""

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from emorec.archives import open_archive
from emorec.features.faces import equalize
from emorec.jsonio import write_json
from emorec.tables import FACE_SIDE, VIDEO_FACES, pixels_array, write_table
from emorec.video_io import sample_frames

log = logging.getLogger(__name__)

CASCADE = "haarcascade_frontalface_default.xml"


@dataclass(frozen=True)
class VideoFaceParams:
    """The ``features.video`` block of params.yaml."""

    every: int = 5  # keep every k-th frame (seed 002 used every 5th)
    detect_side: int = 480  # frames are detected at this long side (speed; boxes map back)
    min_face: float = 0.2  # smallest face side searched, as a share of the frame's short side
    margin: float = 0.1  # crop border around the detected box, as a share of its side
    equalize: bool = True  # per-crop histogram equalisation (features.faces.equalize)


@dataclass(frozen=True)
class Face:
    """The largest face of a frame: its box in frame pixels, score and 48x48 crop."""

    box: tuple[int, int, int, int]
    score: float
    pixels: np.ndarray


class FaceDetector:
    """OpenCV's Haar cascade for frontal faces, keeping the largest face per frame."""

    def __init__(self, params: VideoFaceParams) -> None:
        import cv2

        self.cv2 = cv2
        self.p = params
        cascades = cv2.data.haarcascades  # type: ignore[attr-defined]  # cv2.data has no stubs
        self.cascade = cv2.CascadeClassifier(str(Path(cascades) / CASCADE))
        if self.cascade.empty():
            raise RuntimeError(f"OpenCV could not load its {CASCADE}")

    def __call__(self, gray: np.ndarray) -> Face | None:
        """The largest face in a grayscale frame, or ``None``."""
        found = self.faces(gray, most=1)
        return found[0] if found else None

    def faces(self, gray: np.ndarray, *, most: int | None = None) -> list[Face]:
        """The faces in a grayscale frame, largest first (at most ``most``)."""
        cv2, p = self.cv2, self.p
        height, width = gray.shape
        scale = min(1.0, p.detect_side / max(height, width))
        small = (
            cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
            if scale < 1
            else gray
        )
        side = max(int(p.min_face * min(small.shape)), 20)
        boxes, _, weights = self.cascade.detectMultiScale3(
            small, scaleFactor=1.1, minNeighbors=5, minSize=(side, side), outputRejectLevels=True
        )
        areas = [int(w) * int(h) for _, _, w, h in boxes]
        order = sorted(range(len(boxes)), key=lambda i: -areas[i])[:most]  # ties: the cascade's order
        found = []
        for i in order:
            x, y, w, h = (int(round(v / scale)) for v in boxes[i])
            found.append(Face((x, y, w, h), float(np.ravel(weights)[i]), self.crop(gray, (x, y, w, h))))
        return found

    def crop(self, gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """A square crop around ``box`` with the margin (edges replicated past the frame),
        resized to 48x48 [dtype=uint8]."""
        cv2 = self.cv2
        x, y, w, h = box
        side = int(round(max(w, h) * (1 + 2 * self.p.margin)))
        cx, cy = x + w / 2, y + h / 2
        left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
        pad = max(0, -left, -top, left + side - gray.shape[1], top + side - gray.shape[0])
        framed = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else gray
        patch = framed[top + pad : top + pad + side, left + pad : left + pad + side]
        return cv2.resize(patch, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_AREA)


def clip_faces(
    data: bytes, detector: FaceDetector, *, every: int
) -> tuple[list[tuple[int, float, Face]], int]:
    """Faces of one clip's sampled frames, and how many frames were sampled."""
    found, sampled = [], 0
    for index, seconds, gray in sample_frames(data, every=every):
        sampled += 1
        face = detector(gray)
        if face is not None:
            found.append((index, seconds, face))
    return found, sampled


def extract_video_faces(
    *,
    manifest_path: str | Path,
    output_path: str | Path,
    summary_path: str | Path,
    params: VideoFaceParams,
    max_compression_ratio: float = 100.0,
) -> dict[str, Any]:
    """Detect and crop the faces of every manifest clip into a :data:`VIDEO_FACES` table.

    The summary counts sampled frames, frames with a face and clips without any face; a clip
    that fails to decode part-way is listed with its reason and keeps the faces found before.
    """
    manifest = pq.read_table(manifest_path).to_pylist()
    detector = FaceDetector(params)
    rows: list[dict[str, Any]] = []
    crops: list[np.ndarray] = []
    sampled_total, per_clip, failures = 0, {}, {}
    started = time.perf_counter()
    by_archive: dict[str, list[dict[str, Any]]] = {}
    for clip in manifest:
        by_archive.setdefault(clip["archive"], []).append(clip)
    for archive, clips in by_archive.items():
        with open_archive(archive, max_compression_ratio=max_compression_ratio) as arc:
            for clip in clips:
                try:
                    found, sampled = clip_faces(arc.read(clip["member"]), detector, every=params.every)
                except RuntimeError as exc:
                    found, sampled = [], 0
                    failures[clip["sample_id"]] = str(exc)
                sampled_total += sampled
                per_clip[clip["sample_id"]] = {"sampled": sampled, "faces": len(found)}
                for index, seconds, face in found:
                    x, y, w, h = face.box
                    rows.append(
                        {
                            **{
                                c: clip[c]
                                for c in ("corpus", "label", "label_id", "original_label", "split", "speaker")
                            },
                            "sample_id": f"{clip['sample_id']}_f{index:04d}",
                            "clip_id": clip["sample_id"],
                            "frame": index,
                            "time_s": seconds,
                            "box_x": x,
                            "box_y": y,
                            "box_w": w,
                            "box_h": h,
                            "score": face.score,
                        }
                    )
                    crops.append(face.pixels.ravel())
                log.info(
                    "%s: %d of %d sampled frames with a face (%.1f s so far)",
                    clip["sample_id"],
                    len(found),
                    sampled,
                    time.perf_counter() - started,
                )
    images = np.stack(crops) if crops else np.zeros((0, FACE_SIDE * FACE_SIDE), dtype=np.uint8)
    if params.equalize and len(images):
        images = equalize(images)
    table = (
        pa.Table.from_pylist(rows, schema=VIDEO_FACES.remove(VIDEO_FACES.get_field_index("pixels")))
        if rows
        else VIDEO_FACES.empty_table().drop_columns(["pixels"])
    )
    write_table(table.append_column("pixels", pixels_array(images)), output_path, VIDEO_FACES)
    faceless = sorted(c for c, n in per_clip.items() if n["faces"] == 0)
    summary = {
        "clips": len(manifest),
        "frames_sampled": sampled_total,
        "frames_with_face": len(rows),
        "face_fraction": round(len(rows) / sampled_total, 6) if sampled_total else 0.0,
        "clips_without_face": faceless,
        "decode_failures": failures,
        "by_av": dict(sorted(Counter(c["av"] for c in manifest).items())),
        "per_clip": per_clip,
    }
    write_json(summary_path, summary)
    log.info(
        "%d clips: %d of %d sampled frames with a face; %d clips without a face (%.1f s)",
        len(manifest),
        len(rows),
        sampled_total,
        len(faceless),
        time.perf_counter() - started,
    )
    return summary
