"""Hostile files against `emorec predict` / `emorec serve`: decompression bombs, truncated and
corrupt containers, lying headers, polyglots, random bytes, slow and oversized uploads. Each
is refused quickly with its reason, and the server keeps answering and stays small.

The files are built at test time (nothing is stored in the repository)."""

import io
import signal
import struct
import threading
import time
import zlib

import numpy as np
import pytest
import soundfile as sf
from conftest import emorec_serve, free_port, wait_for, wav_bytes

from emorec.serving.media import (
    Limits,
    MediaError,
    OverLimit,
    check_video,
    read_audio,
    read_gray_image,
    sniff,
)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int, height: int, *, rows_per_block: int = 200) -> bytes:
    """A valid grayscale PNG of zeros: 20000 x 20000 pixels compress to under 2 MB."""
    deflate = zlib.compressobj(1)
    block = b"\0" * ((width + 1) * rows_per_block)
    parts = [deflate.compress(block) for _ in range(height // rows_per_block)]
    parts += [deflate.compress(b"\0" * ((width + 1) * (height % rows_per_block))), deflate.flush()]
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def silence(seconds: float, *, rate: int = 8000, format: str = "FLAC", subtype: str = "PCM_16") -> bytes:
    """Silent audio in ``format``, written a minute at a time."""
    out = io.BytesIO()
    with sf.SoundFile(out, "w", samplerate=rate, channels=1, format=format, subtype=subtype) as f:
        block = np.zeros(rate * 60, np.int16 if subtype == "PCM_16" else np.float32)
        for _ in range(int(seconds // 60)):
            f.write(block)
        f.write(block[: int(seconds % 60 * rate)])
    return out.getvalue()


def unknown_length(flac: bytes) -> bytes:
    """``flac`` with STREAMINFO's total-samples field zeroed: "length unknown", as a stream has."""
    data = bytearray(flac)
    start = 8 + 10  # "fLaC", the block header, then min/max block and frame sizes
    value = int.from_bytes(data[start : start + 8], "big") & ~((1 << 36) - 1)
    data[start : start + 8] = value.to_bytes(8, "big")
    return bytes(data)


def mp4(seconds: float, *, fps: int = 25, side: int = 16) -> bytes:
    """A tiny H.264 MP4 of grey frames."""
    import av

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.full((side, side, 3), 128, np.uint8), format="rgb24")
        for _ in range(int(seconds * fps)):
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    three_hours = silence(3 * 3600)
    return {
        "flac_3h": three_hours,
        "flac_unknown_length": unknown_length(silence(120)),
        "ogg_2min": silence(120, format="OGG", subtype="VORBIS"),
        "mp3_2min": silence(120, format="MP3", subtype="MPEG_LAYER_III"),
        "png_20000": png(20000, 20000),
    }


def refused(call, error: type, match: str) -> None:
    """``call`` raises ``error`` with a message matching ``match`` (the header-based messages
    name the declared size, the bounded decoder's say where it stopped: which path refused)."""
    with pytest.raises(error, match=match):
        call()


# -- the media functions emorec predict and serve share ----------------------------------------
@pytest.mark.parametrize("name", ["flac_3h", "ogg_2min", "mp3_2min"])
def test_audio_bombs_are_refused_from_their_headers(bombs, name):
    refused(
        lambda: read_audio(bombs[name], sample_rate=16000),
        OverLimit,
        r"s of audio, over the 60-second limit \(serving.max_audio_s\)",
    )


def test_audio_that_hides_its_length_is_cut_off_at_the_limit(bombs):
    refused(
        lambda: read_audio(bombs["flac_unknown_length"], sample_rate=16000),
        OverLimit,
        "more than 60 s of audio .decoding stopped there.",
    )
    assert (
        read_audio(bombs["flac_unknown_length"], sample_rate=16000, limits=Limits(audio_s=200)).size
        == 120 * 16000
    )


def test_image_bombs_and_broken_images(bombs):
    assert len(bombs["png_20000"]) < 2_000_000
    refused(
        lambda: read_gray_image(bombs["png_20000"]),
        OverLimit,
        r"a 20000 x 20000 image, over the 40,000,000-pixel limit",
    )
    bad_crc = bytearray(png(64, 64))
    bad_crc[29] ^= 0xFF  # the IHDR chunk's CRC
    refused(lambda: read_gray_image(bytes(bad_crc)), MediaError, "unreadable image")
    polyglot = png(64, 48) + b"PK\x03\x04" + b"\0" * 200  # an image with a zip appended
    assert sniff(polyglot) == "image" and read_gray_image(polyglot).shape == (48, 64)


def test_broken_containers_and_lying_wav_headers():
    clip = mp4(1.0)
    refused(lambda: sniff(clip[: len(clip) // 2]), MediaError, "corrupt|truncated|not a video")
    refused(lambda: sniff(b""), MediaError, "empty file")
    refused(
        lambda: sniff(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()),
        MediaError,
        "unrecognised binary data",
    )
    wav = bytearray(wav_bytes(seconds=1.0))
    wav[40:44] = struct.pack("<I", 10**9)  # the data chunk claims a gigabyte
    samples = read_audio(bytes(wav), sample_rate=16000)  # libsndfile reads what is there
    assert samples.size == 16000


def test_long_videos_are_refused_from_the_container_header():
    long_clip, short_clip = mp4(70.0, fps=10), mp4(3.0, fps=25)
    refused(
        lambda: check_video(long_clip, Limits()), OverLimit, r"a 70-second video, over the 60-second limit"
    )
    refused(
        lambda: check_video(short_clip, Limits(video_frames=50)),
        OverLimit,
        "75 frames, over the 50-frame limit",
    )


# -- against emorec serve -------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    import psutil

    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


@pytest.mark.e2e
def test_the_server_refuses_hostile_uploads_quickly_and_keeps_answering(run, tmp_path, bombs):
    import requests

    config = tmp_path / "serving.yaml"
    config.write_text("serving: {workers: 1, queue: 0, request_timeout_s: 4}\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    before = sorted((p, p.stat().st_mtime_ns) for p in run.rglob("*") if p.is_file())
    server = emorec_serve(run, port, "--max-mb", "5", "--configfile", str(config))
    peak = 0.0
    try:
        wait_for(f"{url}/health", server)
        for name, status, reason, within in [
            ("flac_3h", 422, "over the 60-second limit", 2),
            ("png_20000", 422, "over the 40,000,000-pixel limit", 1),
            ("ogg_2min", 422, "over the 60-second limit", 2),
            ("flac_unknown_length", 422, "decoding stopped there", 5),
        ]:
            began = time.perf_counter()
            answer = requests.post(f"{url}/predict", data=bombs[name], timeout=30)
            assert (answer.status_code, time.perf_counter() - began < within) == (status, True), (
                name,
                answer.text,
            )
            assert reason in answer.json()["error"]
            assert requests.get(f"{url}/health", timeout=1).ok
            peak = max(peak, rss_mb(server.pid))
        assert requests.post(f"{url}/predict", data=b"\0" * (6 << 20), timeout=30).status_code == 413
        assert requests.post(f"{url}/predict", data=b"plain text\n" * 100, timeout=30).status_code == 415

        # a slow upload holds the one worker slot: another request is turned away with Retry-After,
        # /health still answers, and the slow one ends with 408 at the time limit
        def trickle():
            for _ in range(20):
                yield b"\0" * 10
                time.sleep(0.5)

        slow: dict = {}
        thread = threading.Thread(
            target=lambda: slow.update(r=requests.post(f"{url}/predict", data=trickle(), timeout=30))
        )
        thread.start()
        time.sleep(1.0)
        busy = requests.post(f"{url}/predict", data=wav_bytes(), timeout=30)
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
        assert requests.get(f"{url}/health", timeout=1).json()["busy"] == 1
        thread.join(timeout=30)
        assert slow["r"].status_code == 408
        assert requests.post(f"{url}/predict", data=wav_bytes(), timeout=30).json()["kind"] == "audio"
        assert peak < 2048, f"server RSS peaked at {peak:.0f} MB"
        after = sorted((p, p.stat().st_mtime_ns) for p in run.rglob("*") if p.is_file())
        assert after == before  # nothing written

        # SIGTERM in the middle of a prediction stops the server within 5 s
        long_clip = wav_bytes(seconds=55.0)
        threading.Thread(
            target=lambda: requests.post(f"{url}/predict", data=long_clip, timeout=30), daemon=True
        ).start()
        time.sleep(0.5)
        began = time.perf_counter()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
        assert time.perf_counter() - began < 5
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
