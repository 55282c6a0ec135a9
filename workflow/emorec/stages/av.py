"""Real audio-visual fusion on RAVDESS video clips: each clip's own voice and its own face.

Clip-level visual probabilities pool the face model's probabilities over the clip's sampled
frames (``pooling``: ``mean``, or ``geometric`` for the renormalised geometric mean). The
audio model reads the clip's own audio track; with per-speaker normalisation its statistics
come from that actor's audio-only clips too (unlabelled, as in training). Both move into the
labels they share (``fusion.label_map``: RAVDESS' calm has no FER2013 counterpart), F-score
weights come from the validation actors' clips, and the test actors' full-AV clips are scored
under ``av.<method>.test.*``. Video-only clips get visual predictions only.

Writes ``clips.parquet`` (every clip: labels, faces found, each modality's probabilities),
``weights.csv``, ``predictions.parquet``, ``per_class.csv``, ``confusion.csv`` / ``.png``,
``f1.png`` and flat ``metrics.json``.
"""

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from emorec.datasets import model_input, read_features
from emorec.errors import DataError
from emorec.fusion import pool_frames
from emorec.jsonio import read_json
from emorec.models.store import TrainedModel, load_model
from emorec.stages.fuse import common_labels, in_common_space, score_methods, validation_weights
from emorec.stages.report import write_metrics

log = logging.getLogger(__name__)


def audio_clip_proba(model: TrainedModel, av_audio: pa.Table, audio_features: str | Path) -> np.ndarray:
    """The audio model's probabilities for every row of ``av_audio``. With per-speaker
    normalisation, each actor's statistics span its full-AV tracks and its audio-only clips."""
    options = model.input_options
    table = av_audio
    if options.get("speaker_norm"):
        context = read_features(audio_features)
        speakers = pa.array(sorted(set(av_audio.column("speaker").to_pylist())), pa.string())
        context = context.filter(pc.is_in(context.column("speaker"), speakers)).select(av_audio.schema.names)
        table = pa.concat_tables([av_audio, context.cast(av_audio.schema)])
    return model.predict_proba(model_input(table, model.input, **options))[: av_audio.num_rows]


def _frame(clips: pd.DataFrame, proba: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Clips that have probabilities, in the prediction-table layout :func:`in_common_space` reads."""
    have = ~np.isnan(proba).any(axis=1)
    frame = clips.loc[have, ["sample_id", "split", "label"]].reset_index(drop=True)
    return frame.join(pd.DataFrame(proba[have], columns=[f"p_{c}" for c in classes]))


def run_av_fusion(
    *,
    manifest: str | Path,
    faces: str | Path,
    faces_summary: str | Path,
    av_audio: str | Path,
    audio_features: str | Path,
    audio_model: str | Path,
    visual_model: str | Path,
    out_dir: str | Path,
    label_map: Mapping[str, str | None],
    pooling: str = "mean",
) -> dict[str, float | int]:
    """Predict every clip with both models, fuse the full-AV test clips and report."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clips = pq.read_table(manifest).to_pandas().sort_values("sample_id").reset_index(drop=True)
    ids = clips["sample_id"].tolist()

    visual = load_model(visual_model)
    face_table = pq.read_table(faces)
    frame_proba = visual.predict_proba(model_input(face_table, visual.input, **visual.input_options))
    visual_p = pool_frames(
        frame_proba, np.asarray(face_table.column("clip_id").to_pylist()), ids, pooling=pooling
    )

    audio = load_model(audio_model)
    tracks = read_features(av_audio)
    audio_p = np.full((len(ids), len(audio.classes)), np.nan)
    if tracks.num_rows:
        index = {clip: i for i, clip in enumerate(ids)}
        audio_p[[index[c] for c in tracks.column("sample_id").to_pylist()]] = audio_clip_proba(
            audio, tracks, audio_features
        )

    faces_per_clip = face_table.column("clip_id").value_counts().to_pylist()
    counts = {row["values"]: row["counts"] for row in faces_per_clip}
    table = clips[["sample_id", "speaker", "split", "label", "av"]].assign(
        faces=[counts.get(c, 0) for c in ids]
    )
    for name, proba, classes in (("audio", audio_p, audio.classes), ("visual", visual_p, visual.classes)):
        table = table.join(pd.DataFrame(proba.astype(np.float32), columns=[f"{name}_p_{c}" for c in classes]))
    table.to_parquet(out_dir / "clips.parquet", index=False)

    frames = {
        "audio": _frame(clips, audio_p, audio.classes),
        "visual": _frame(clips, visual_p, visual.classes),
    }
    common = common_labels({"audio": audio.classes, "visual": visual.classes}, label_map)
    # Only clips with both a voice and a face are pairs; weights and scores use those alone.
    both = set(frames["audio"]["sample_id"]) & set(frames["visual"]["sample_id"])
    frames = {m: f[f["sample_id"].isin(both)].reset_index(drop=True) for m, f in frames.items()}
    weights = validation_weights(frames, common, label_map, out_dir)
    (audio_rows, y, audio_c), (visual_rows, _, visual_c) = (
        in_common_space(f, "test", common, label_map) for f in frames.values()
    )
    if len(y) == 0:
        raise DataError(
            "no full-AV test clip has both an audio track and a face: check the video archives and test actors"
        )
    if audio_rows["sample_id"].tolist() != visual_rows["sample_id"].tolist():
        raise AssertionError("audio and visual test clips are not aligned")
    summary = read_json(faces_summary)
    metrics: dict[str, float | int] = {
        "av.clips": len(ids),
        "av.full_av_clips": int((clips["av"] == "full_av").sum()),
        "av.video_only_clips": int((clips["av"] == "video_only").sum()),
        "av.clips_without_face": len(summary["clips_without_face"]),
        "av.frame_face_fraction": float(summary["face_fraction"]),
        "av.test_pairs": len(y),
    }
    scored, predictions = score_methods(
        y,
        {"audio": audio_c, "visual": visual_c},
        weights,
        common,
        prefix="av",
        out_dir=out_dir,
        what="real audio-visual test clips",
        ids={"clip_id": audio_rows["sample_id"].to_numpy()},
    )
    metrics.update(scored)
    predictions.to_parquet(out_dir / "predictions.parquet", index=False)
    write_metrics(out_dir / "metrics.json", metrics)
    log.info(
        "%d clips (%d test pairs); pooling %s; common labels %s", len(ids), len(y), pooling, ", ".join(common)
    )
    return metrics
