"""`emorec serve` under load: latency, throughput, refusals by kind and the server's peak memory.

    .venv/bin/python benchmarks/serve_load.py WORKDIR [--clients 8] [--seconds 60] > benchmarks/serve_load.txt

WORKDIR is a finished demo run (``data/raw/demo`` and the trained models). The server runs on
127.0.0.1 with the params' ``serving`` limits; ``--clients`` threads post files for
``--seconds``, each picking the next file of a fixed mix: demo WAVs, face PNGs and MP4 clips,
and a few hostile files (a three-hour silent FLAC, a PNG declaring 20000 x 20000 pixels, text).
Expected refusals (413, 415, 422, and 503 when every worker and queue place is taken, after
which a client waits as ``Retry-After`` says) are counted apart from unexpected errors (any
other 5xx, or a connection error). Nothing is
asserted: the committed output is the record.
"""

import argparse
import os
import subprocess
import sys
import threading
import time
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from emorec.runner import cpu_model

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from test_hostile_files import png, silence  # noqa: E402  (the hostile files the tests build)


def files(workdir: Path) -> list[tuple[str, bytes]]:
    """The mix, as (kind, bytes): per 20 requests 8 WAVs, 6 faces, 3 clips and 3 hostile files."""
    import cv2
    import pyarrow.parquet as pq

    with zipfile.ZipFile(workdir / "data/raw/demo/ravdess_demo.zip") as z:
        wavs = [z.read(n) for n in sorted(z.namelist()) if n.endswith(".wav")][:40]
    with zipfile.ZipFile(workdir / "data/raw/demo/ravdess_video_demo.zip") as z:
        clips = [z.read(n) for n in sorted(z.namelist()) if n.endswith(".mp4")][:6]
    faces = pq.read_table(workdir / "data/features/faces.parquet").to_pandas()
    pngs = [
        cv2.imencode(".png", np.frombuffer(p, np.uint8).reshape(48, 48))[1].tobytes()
        for p in faces["pixels"][:30]
    ]
    hostile = [
        ("hostile", silence(3 * 3600)),
        ("hostile", png(20000, 20000)),
        ("hostile", b"plain text, not media\n" * 50),
    ]
    mix = [("wav", wavs[i % len(wavs)]) for i in range(8)] + [("face", pngs[i % len(pngs)]) for i in range(6)]
    mix += [("clip", clips[i % len(clips)]) for i in range(3)] + hostile
    return mix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    import psutil
    import requests

    mix = files(args.workdir)
    port = 8765
    server = subprocess.Popen(
        [sys.executable, "-m", "emorec.cli", "serve", "--port", str(port), "--root", str(args.workdir)],
        cwd=args.workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            health = requests.get(f"{url}/health", timeout=1).json()
            break
        except requests.RequestException:
            time.sleep(0.5)
    else:
        server.kill()
        sys.exit("the server did not start: " + (server.stderr.read() if server.stderr else ""))
    process = psutil.Process(server.pid)
    peak = [process.memory_info().rss]
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak.append(process.memory_info().rss)
            time.sleep(0.1)

    latencies: dict[str, list[float]] = defaultdict(list)
    outcomes: Counter = Counter()
    lock = threading.Lock()
    deadline = time.perf_counter() + args.seconds

    def client(k: int) -> None:
        session = requests.Session()
        i = k
        while time.perf_counter() < deadline:
            kind, data = mix[i % len(mix)]
            i += args.clients
            began = time.perf_counter()
            retry = 0.0
            status: int | str
            try:
                answer = session.post(f"{url}/predict", data=data, timeout=120)
                status, retry = answer.status_code, float(answer.headers.get("Retry-After", 0))
            except requests.RequestException as exc:
                status = f"connection error ({type(exc).__name__})"
            seconds = time.perf_counter() - began
            with lock:
                outcomes[(kind, status)] += 1
                if status == 200 or (kind == "hostile" and status in (413, 415, 422)):
                    latencies[kind].append(seconds)
            if status == 503:
                time.sleep(
                    min(retry, max(0.0, deadline - time.perf_counter()))
                )  # a well-behaved client honours Retry-After

    watcher = threading.Thread(target=watch)
    watcher.start()
    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    stop.set()
    watcher.join()
    server.terminate()
    server.wait(timeout=30)

    cpu = cpu_model()
    print(
        f"emorec serve on {cpu}, {os.cpu_count()} cores: {health.get('capacity')} places ({args.clients} clients for {args.seconds:.0f} s)\n"
    )
    print("| file | answered | p50 s | p95 s |\n|---|---:|---:|---:|")
    for kind in ("wav", "face", "clip", "hostile"):
        values = np.array(latencies[kind])
        if len(values):
            print(
                f"| {kind} | {len(values)} | {np.percentile(values, 50):.3f} | {np.percentile(values, 95):.3f} |"
            )
    print("\n| file | status | requests |\n|---|---|---:|")
    for (kind, status), n in sorted(outcomes.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        print(f"| {kind} | {status} | {n} |")
    unexpected = sum(
        n
        for (kind, status), n in outcomes.items()
        if not (status == 200 or status == 503 or (kind == "hostile" and status in (413, 415, 422)))
    )
    total = sum(outcomes.values())
    print(
        f"\n{total} requests in {wall:.1f} s ({total / wall:.1f} per s; {sum(n for (_, s), n in outcomes.items() if s == 200) / wall:.1f} answered per s);"
        f" unexpected errors: {unexpected}; 503 (busy, Retry-After): {sum(n for (_, s), n in outcomes.items() if s == 503)};"
        f" server peak RSS {max(peak) / 2**20:.0f} MB"
    )


if __name__ == "__main__":
    main()
