"""Per-clip cost of the video path on the real RAVDESS clips of actor 05, in one run.

    .venv/bin/python benchmarks/video_faces.py > benchmarks/video_faces.txt

The pipeline's face extraction (:func:`emorec.features.video_faces.clip_faces`: PyAV decoding
in place from the zip, detection on frames scaled to 480 px on the long side) against a plain
seed-style loop: the clip extracted to a file, read with ``cv2.VideoCapture``, every frame
converted to grayscale, the Haar cascade run on every 5th frame at full 1280 x 720 with
OpenCV's default parameters. Both sample every 5th frame. Then the clip's audio track, the
video probe used by ingest, and the faces each loop found. Nothing is asserted: the committed
output is the record.
"""

import os
import platform
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = REPO.parent / "shared" / "data" / "ravdess_video" / "Video_Speech_Actor_05_partial.zip"
EVERY = 5


def plain_loop(data: bytes, cascade) -> tuple[int, int]:
    """(frames sampled, frames with a face), the way a seed notebook does it."""
    import cv2

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "clip.mp4")
        Path(path).write_bytes(data)
        capture = cv2.VideoCapture(path)
        index = sampled = found = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            if index % EVERY == 0:
                sampled += 1
                found += len(cascade.detectMultiScale(gray, 1.1, 5)) > 0
            index += 1
        capture.release()
    return sampled, found


def main() -> None:
    import cv2

    from emorec.features.video_faces import CASCADE, FaceDetector, VideoFaceParams, clip_faces
    from emorec.runner import PORTABLE_ENV
    from emorec.video_io import decode_audio_track, probe_video

    for key, value in PORTABLE_ENV.items():
        os.environ.setdefault(key, value)
    cv2.setNumThreads(1)
    if not ARCHIVE.exists():
        sys.exit(f"{ARCHIVE} is absent")
    with zipfile.ZipFile(ARCHIVE) as archive:
        clips = {name: archive.read(name) for name in sorted(archive.namelist()) if name.endswith(".mp4")}
    detector = FaceDetector(VideoFaceParams(every=EVERY))
    cascades = cv2.data.haarcascades  # type: ignore[attr-defined]  # cv2.data has no stubs
    cascade = cv2.CascadeClassifier(str(Path(cascades) / CASCADE))
    rows, ours, plain, probe, audio = [], [], [], [], []
    for name, data in clips.items():
        started = time.perf_counter()
        found, sampled = clip_faces(data, detector, every=EVERY)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        p_sampled, p_found = plain_loop(data, cascade)
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        probe_video(data)
        probe.append(time.perf_counter() - started)
        if Path(name).name.startswith("01-"):
            started = time.perf_counter()
            decode_audio_track(data, sample_rate=16000)
            audio.append(time.perf_counter() - started)
        rows.append((Path(name).name, sampled, len(found), p_sampled, p_found, ours[-1], plain[-1]))

    print(
        f"RAVDESS actor 05, {len(clips)} clips (1280 x 720, 29.97 fps, ~3.2 s); every {EVERY}th frame; "
        f"one core (OpenCV threads 1); {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print("| clip | sampled | faces (pipeline) | sampled (plain) | faces (plain) | pipeline s | plain s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} | {row[4]} | {row[5]:.2f} | {row[6]:.2f} |")
    total = sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows), sum(r[4] for r in rows)
    print(f"\nfaces found: pipeline {total[1]}/{total[0]} sampled frames, plain loop {total[3]}/{total[2]}")
    print(
        f"faces per clip: median {np.median(ours):.2f} s per clip (pipeline) vs {np.median(plain):.2f} s (plain loop): "
        f"{np.median(plain) / np.median(ours):.1f}x (ratio of medians; totals {sum(ours):.1f} s vs {sum(plain):.1f} s)"
    )
    print(f"ingest probe (demux, no decoding): median {1000 * np.median(probe):.0f} ms per clip")
    print(f"audio track (AAC decode + resample to 16 kHz): median {1000 * np.median(audio):.0f} ms per clip")


if __name__ == "__main__":
    main()
