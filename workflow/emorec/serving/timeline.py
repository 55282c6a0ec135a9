"""Emotion over time in one video or long audio file: per step (1 s by default), the face
track (the frames of that second with a face, pooled as the pipeline pools a clip's frames),
the voice track (a window of ``voice_window_s`` centred on the step, through the audio model)
and their fusion (:meth:`Predictor.fuse_tracks`, the pipeline's weights).

Written as a long CSV (one row per step and track), JSON (the same rows) and a PNG with one
panel per track.
"""

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from emorec.fusion import pool
from emorec.serving.media import MediaError, read_audio, sniff
from emorec.serving.predictor import Predictor, class_answer

TRACKS = ("visual", "audio", "fused")
#: The shortest audio window the voice model is asked about (at a file's end).
MIN_VOICE_S = 0.5


def timeline(
    predictor: Predictor, data: bytes, *, step_s: float = 1.0, voice_window_s: float = 3.0
) -> list[dict[str, Any]]:
    """Rows ``{start_s, end_s, track, label, probabilities}`` for every step of the file and
    every track that has something there; a step without a face has no ``visual`` row."""
    kind = sniff(data)
    if kind == "image":
        raise MediaError("a timeline needs a video or an audio file, not an image")
    rate = predictor.audio_params.sample_rate
    if kind == "audio":
        times, faces = np.zeros(0), np.zeros((0, 0))
        track: np.ndarray | None = read_audio(data, sample_rate=rate, limits=predictor.limits)
    else:
        times, faces = predictor.video_faces(data)
        track = predictor.voice_track(data)
    length = max(len(track) / rate if track is not None else 0.0, float(times.max()) if len(times) else 0.0)
    # a last sliver under a tenth of a step (an audio codec's padding) makes no step of its own
    steps = max(1, math.ceil(length / step_s - 0.1))
    windows, voiced = [], []
    for k in range(steps):
        middle = (k + 0.5) * step_s
        start, end = max(0.0, middle - voice_window_s / 2), min(length, middle + voice_window_s / 2)
        if track is not None and end - start >= MIN_VOICE_S:
            windows.append(track[int(start * rate) : int(end * rate)])
            voiced.append(k)
    voices = dict(zip(voiced, predictor.voice(windows, same_speaker=False) if windows else []))
    rows = []
    for k in range(steps):
        start, end = k * step_s, min((k + 1) * step_s, length) if length else step_s
        parts: dict[str, tuple[list[str], np.ndarray]] = {}
        mine = faces[(times >= k * step_s) & (times < (k + 1) * step_s)]
        if len(mine):
            parts["visual"] = (
                list(predictor.models["visual"].classes),
                pool(mine, pooling=predictor.recipe.pooling),
            )
        if k in voices:
            parts["audio"] = (
                list(voices[k]["probabilities"]),
                np.array(list(voices[k]["probabilities"].values())),
            )
        for name, (classes, proba) in parts.items():
            rows.append(_row(start, end, name, classes, proba))
        if len(parts) == 2:
            classes, fused, _ = predictor.fuse_tracks(parts)
            rows.append(_row(start, end, "fused", classes, fused))
    return rows


def _row(start: float, end: float, track: str, classes: list[str], proba: np.ndarray) -> dict[str, Any]:
    return {
        "start_s": round(start, 3),
        "end_s": round(end, 3),
        "track": track,
        **class_answer(classes, proba),
    }


def write_timeline(rows: list[dict[str, Any]], prefix: str | Path, *, title: str) -> list[Path]:
    """``<prefix>.csv``, ``<prefix>.json`` and ``<prefix>.png``; returns their paths."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    classes = list(dict.fromkeys(c for r in rows for c in r["probabilities"]))
    paths = [prefix.parent / f"{prefix.name}{s}" for s in (".csv", ".json", ".png")]
    with paths[0].open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["start_s", "end_s", "track", "label", *classes])
        for r in rows:
            writer.writerow(
                [
                    r["start_s"],
                    r["end_s"],
                    r["track"],
                    r["label"],
                    *(r["probabilities"].get(c, "") for c in classes),
                ]
            )
    paths[1].write_text(json.dumps(rows, indent=1) + "\n")
    plot_timeline(rows, paths[2], title=title)
    return paths


def plot_timeline(rows: list[dict[str, Any]], path: Path, *, title: str) -> None:
    """One panel per track present: each emotion's probability over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tracks = [t for t in TRACKS if any(r["track"] == t for r in rows)]
    names = {"visual": "face", "audio": "voice", "fused": "fusion"}
    classes = list(dict.fromkeys(c for r in rows for c in r["probabilities"]))
    colours = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(classes)}
    fig, axes = plt.subplots(len(tracks), 1, figsize=(9, 2.2 * len(tracks) + 0.6), sharex=True, squeeze=False)
    for ax, track in zip(axes[:, 0], tracks):
        mine = [r for r in rows if r["track"] == track]
        middle = [(r["start_s"] + r["end_s"]) / 2 for r in mine]
        for c in classes:
            if c in mine[0]["probabilities"]:
                ax.plot(
                    middle, [r["probabilities"][c] for r in mine], marker="o", ms=3, color=colours[c], label=c
                )
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"{names[track]}\nprobability")
        ax.grid(alpha=0.3)
        ax.legend(ncol=4, fontsize=7, loc="upper right")
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
