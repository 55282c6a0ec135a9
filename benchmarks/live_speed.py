"""What the live page costs the server, and the frame rate one client gets, in one run.

    .venv/bin/python benchmarks/live_speed.py CHECKOUT [CONFIGFILE] > benchmarks/live_speed.txt

CHECKOUT has run the pipeline with the profile CONFIGFILE (e.g. ``config/real.yaml``: the real
face CNN and audio models). The camera frame is a 640 x 480 JPEG of a real RAVDESS clip
(actor 05, one face), the voice window the first 3 s of its audio track at 48 kHz, as the page
sends them. Timed in this process: :func:`emorec.serving.live.frame_faces` and
:func:`~emorec.serving.live.voice_window` (median of 40 and 15, after a warm-up). Then
``emorec serve`` is started and one client posts frames to ``/live/frame`` one after another
for 15 s, as the page does: frames answered per second end to end. Targets (issue 39): at most
60 ms per frame and 150 ms per audio window, at least 10 frames per second for one client.
"""

import io
import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import soundfile as sf

from emorec.runner import cpu_model

REPO = Path(__file__).resolve().parents[1]
CLIPS = REPO.parent / "shared" / "data" / "ravdess_video" / "Video_Speech_Actor_05_partial.zip"
sys.path.insert(0, str(REPO / "tests"))

from conftest import free_port, wait_for  # noqa: E402  (the tests' own server helpers)


def frame_and_window() -> tuple[bytes, bytes]:
    """A 640 x 480 JPEG frame with one face and 3 s of the clip's audio as a 48 kHz WAV."""
    import cv2

    from emorec.video_io import decode_audio_track, sample_frames

    with zipfile.ZipFile(CLIPS) as z:
        clip = z.read(next(n for n in sorted(z.namelist()) if n.split("/")[-1].startswith("01-01-03")))
    _, _, gray = next(f for i, f in enumerate(sample_frames(clip, every=1)) if i == 30)
    jpeg = cv2.imencode(".jpg", cv2.resize(gray, (640, 480)), [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
    wav = io.BytesIO()
    sf.write(
        wav, decode_audio_track(clip, sample_rate=48000)[: 3 * 48000], 48000, format="WAV", subtype="PCM_16"
    )
    return jpeg, wav.getvalue()


def median_ms(work, data: bytes, repeat: int) -> float:
    work(data)  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work(data)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    checkout = Path(sys.argv[1]).resolve()
    configfiles = tuple(sys.argv[2:3])
    os.chdir(checkout)
    from emorec.params import load_params
    from emorec.serving import live
    from emorec.serving.project import project_predictor

    predictor = project_predictor(load_params("params.yaml", configfiles))
    jpeg, wav = frame_and_window()
    faces = live.frame_faces(predictor, jpeg)["faces"]
    frame_ms = median_ms(lambda d: live.frame_faces(predictor, d), jpeg, 40)
    voice_ms = median_ms(lambda d: live.voice_window(predictor, d), wav, 15)

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "emorec.cli", "serve", "--port", str(port), "--root", str(checkout),
         *(a for c in configfiles for a in ("--configfile", c))],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        import requests

        wait_for(f"http://127.0.0.1:{port}/health", server)
        url, session = f"http://127.0.0.1:{port}/live/frame", requests.Session()
        session.post(url, data=jpeg, timeout=60).raise_for_status()
        answered, start = 0, time.perf_counter()
        while time.perf_counter() - start < 15:
            session.post(
                url, data=jpeg, headers={"Content-Type": "image/jpeg"}, timeout=60
            ).raise_for_status()
            answered += 1
        fps = answered / (time.perf_counter() - start)
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(
        f"emorec serve's live page on {cpu_model()}, {os.cpu_count()} cores; models of {checkout.name} {' '.join(configfiles)}"
    )
    print(f"models: {predictor.sources}\n")
    print("| step | measured | target | met |\n|---|---:|---:|---|")
    print(
        f"| one 640 x 480 camera frame ({len(faces)} face found): detection, crop, face CNN | {frame_ms:.1f} ms | <= 60 ms | {'yes' if frame_ms <= 60 else 'no'} |"
    )
    print(
        f"| one 3-s microphone window (48 kHz WAV): resampling, eGeMAPS, emotion and sex | {voice_ms:.1f} ms | <= 150 ms | {'yes' if voice_ms <= 150 else 'no'} |"
    )
    print(
        f"| one client posting frames one after another to /live/frame for 15 s | {fps:.1f} frames/s | >= 10 | {'yes' if fps >= 10 else 'no'} |"
    )
    print(
        f"\nframe JPEG {len(jpeg) / 1024:.0f} KiB, voice WAV {len(wav) / 1024:.0f} KiB; medians of 40 frames and 15 windows after a warm-up"
    )


if __name__ == "__main__":
    main()
