"""Raw files in, emotion probabilities out: the pipeline's own feature code and models.

A :class:`Predictor` holds up to three trained models (audio emotion, speaker sex, face
emotion) and what turning a raw file into their inputs needs (a :class:`Recipe`: the feature
parameters the models were trained with, the average-speaker statistics, the audio-visual
fusion weights). Audio goes through :func:`emorec.features.audio.audio_feature_table`, faces
through the video face detector and the FER2013 normalisation, so a served model sees exactly
what it saw in training.

Per-speaker normalisation is transductive: in training each speaker is normalised by their
own clips. A file that comes alone is normalised by the *average training speaker*
(:func:`emorec.datasets.speaker_baseline`); :meth:`Predictor.predict_audio_batch`
normalises a batch of one speaker's files by their own statistics, as the pipeline does.

A bundle folder (``bundle.json`` and a copy of each model folder) holds all of it: the
MLflow pyfunc models carry one, and :meth:`Predictor.from_bundle` reads it back.
"""

import json
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from emorec.audio_io import TooLong
from emorec.datasets import model_input, speaker_baseline, split_rows
from emorec.features.audio import AudioFeatureParams, audio_feature_table
from emorec.features.faces import equalize
from emorec.features.video_faces import FaceDetector, VideoFaceParams
from emorec.fusion import fuse, pool, to_common_space
from emorec.models.store import TrainedModel, load_model
from emorec.serving.media import (
    Limits,
    MediaError,
    OverLimit,
    check,
    check_video,
    read_audio,
    read_gray_image,
    sniff,
)
from emorec.tables import FACE_PIXELS
from emorec.video_io import decode_audio_track, sample_frames

#: Images no larger than this on both sides are taken as face crops already (FER2013's 48x48).
CROP_SIDE = 64
#: The parts a predictor may hold, as model roles.
ROLES = ("audio", "sex", "visual")


@dataclass
class Recipe:
    """How raw files become model inputs; JSON-serialisable (``bundle.json``)."""

    audio_features: dict[str, Any] = field(default_factory=dict)
    video_faces: dict[str, Any] = field(default_factory=dict)
    label_map: dict[str, str | None] = field(default_factory=lambda: {"calm": "neutral"})
    pooling: str = "mean"
    #: F-score fusion weights for video clips: {"labels": [...], "audio": [...], "visual": [...]}
    av_weights: dict[str, list[Any]] | None = None
    #: The average training speaker of the audio model's input: {"mean": [...], "std": [...]}
    audio_baseline: dict[str, Any] | None = None


def audio_baseline(model: TrainedModel, features: pa.Table) -> dict[str, Any] | None:
    """The average training speaker of ``model``'s input (None without speaker normalisation)."""
    options = model.input_options
    if not options.get("speaker_norm"):
        return None
    train = split_rows(features, "train")
    raw = np.asarray(model_input(train, model.input, **{**options, "speaker_norm": False}), dtype=np.float64)
    mean, std = speaker_baseline(
        raw, train.column("speaker").to_pylist(), axis=(0, 2) if model.input == "logmel" else (0,)
    )
    return {"mean": mean.tolist(), "std": std.tolist()}


def _distribution(classes: Sequence[str], proba: np.ndarray) -> dict[str, float]:
    return {c: round(float(p), 6) for c, p in zip(classes, proba)}


def class_answer(classes: Sequence[str], proba: np.ndarray) -> dict[str, Any]:
    return {"label": classes[int(np.argmax(proba))], "probabilities": _distribution(classes, proba)}


class Predictor:
    """Emotion (and, for a voice, speaker sex) of raw audio, image and video files."""

    def __init__(
        self,
        models: Mapping[str, TrainedModel],
        recipe: Recipe,
        sources: Mapping[str, str],
        limits: Limits = Limits(),
    ) -> None:
        unknown = sorted(set(models) - set(ROLES))
        if unknown:
            raise ValueError(f"unknown model roles {unknown}; expected some of {', '.join(ROLES)}")
        self.models = dict(models)
        self.recipe = recipe
        self.sources = dict(sources)
        self.limits = limits
        self.audio_params = AudioFeatureParams(**{**recipe.audio_features, "shards": 1})
        face_params = {
            k: v for k, v in recipe.video_faces.items() if k in VideoFaceParams.__dataclass_fields__
        }
        self.face_params = VideoFaceParams(**face_params)
        # Several requests may run at once (emorec serve's workers): decoding and face search run
        # side by side, each thread with its own detector; the models and the eGeMAPS extractor
        # hold state of their own, so one thread at a time uses them.
        self._local = threading.local()
        self._models_lock = threading.Lock()

    # -- bundles -----------------------------------------------------------------------
    def save_bundle(self, directory: str | Path) -> Path:
        """Write ``bundle.json`` and a copy of every model folder into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for role in self.models:
            shutil.copytree(self.sources_dir[role], directory / role, dirs_exist_ok=True)
        (directory / "bundle.json").write_text(
            json.dumps({"recipe": asdict(self.recipe), "sources": self.sources}, indent=1)
        )
        return directory

    @property
    def sources_dir(self) -> dict[str, Path]:
        return {role: Path(self.models[role].card["_dir"]) for role in self.models}

    @classmethod
    def from_bundle(cls, directory: str | Path, *, source: str | None = None) -> "Predictor":
        """The predictor saved by :meth:`save_bundle`; ``source`` (e.g. a registry URI)
        replaces the recorded model sources."""
        directory = Path(directory)
        meta = json.loads((directory / "bundle.json").read_text())
        roles = [r for r in ROLES if (directory / r / "card.json").exists()]
        models = {r: load_folder(directory / r) for r in roles}
        sources = {r: source for r in roles} if source else meta["sources"]
        return cls(models, Recipe(**meta["recipe"]), sources)

    # -- inputs ------------------------------------------------------------------------
    @property
    def detector(self) -> FaceDetector:
        """This thread's face detector (OpenCV's cascade is not shared between threads)."""
        if getattr(self._local, "detector", None) is None:
            self._local.detector = FaceDetector(self.face_params)
        return self._local.detector

    def _audio_rows(self, clips: Sequence[np.ndarray], speaker: str) -> pa.Table:
        n = len(clips)
        rows = pa.table(
            {
                "corpus": ["upload"] * n,
                "sample_id": [f"upload-{i:05d}" for i in range(n)],
                "label": ["neutral"] * n,
                "label_id": pa.array([0] * n, pa.int8()),
                "original_label": [""] * n,
                "split": ["test"] * n,
                "speaker": [speaker] * n,
            }
        )
        return audio_feature_table(rows, clips, self.audio_params)

    def _audio_input(self, model: TrainedModel, table: pa.Table, *, same_speaker: bool) -> Any:
        options = model.input_options
        if not options.get("speaker_norm") or same_speaker:
            return model_input(table, model.input, **options)
        if self.recipe.audio_baseline is None:
            raise ValueError(
                "this model normalises per speaker but the bundle has no average-speaker statistics"
            )
        raw = model_input(table, model.input, **{**options, "speaker_norm": False})
        mean, std = (np.asarray(self.recipe.audio_baseline[k]) for k in ("mean", "std"))
        normed = (np.asarray(raw, dtype=np.float64) - mean) / std
        if isinstance(raw, pd.DataFrame):  # descriptors keep their names
            return pd.DataFrame(normed.astype(np.float32), columns=raw.columns)
        return normed.astype(np.float32)

    def face_crop(self, gray: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """The 48x48 training-normalised face of an image and where it came from."""
        height, width = gray.shape
        if height <= CROP_SIDE and width <= CROP_SIDE:
            import cv2

            pixels = (
                cv2.resize(gray, (48, 48), interpolation=cv2.INTER_AREA) if gray.shape != (48, 48) else gray
            )
            where: dict[str, Any] = {
                "box": None,
                "source": f"whole image ({width}x{height}: already a face crop)",
            }
        else:
            face = self.detector(gray)
            if face is None:
                raise MediaError(f"no face found in the {width}x{height} image")
            pixels, where = face.pixels, {"box": list(face.box), "source": "Haar cascade"}
        flat = pixels.reshape(1, FACE_PIXELS)
        return (equalize(flat) if self.face_params.equalize else flat).reshape(48, 48), where

    def face_proba(self, crops: np.ndarray) -> np.ndarray:
        with self._models_lock:
            return self.models["visual"].predict_proba(crops.reshape(-1, 48, 48, 1))

    # -- predictions -------------------------------------------------------------------
    def need(self, role: str, what: str) -> TrainedModel:
        if role not in self.models:
            raise MediaError(f"{what} needs a {role} model, and none is loaded")
        return self.models[role]

    def voice(self, clips: Sequence[np.ndarray], *, same_speaker: bool) -> list[dict[str, Any]]:
        with self._models_lock:
            return self._voice_alone(clips, same_speaker=same_speaker)

    def _voice_alone(self, clips: Sequence[np.ndarray], *, same_speaker: bool) -> list[dict[str, Any]]:
        table = self._audio_rows(clips, "batch" if same_speaker else "upload")
        audio = self.need("audio", "audio")
        proba = audio.predict_proba(self._audio_input(audio, table, same_speaker=same_speaker))
        answers = [
            {**class_answer(audio.classes, p), "models": {"audio": self.sources["audio"]}} for p in proba
        ]
        if "sex" in self.models:
            sex = self.models["sex"]
            for answer, p in zip(
                answers, sex.predict_proba(model_input(table, sex.input, **sex.input_options))
            ):
                answer["sex"] = class_answer(sex.classes, p)
                answer["models"]["sex"] = self.sources["sex"]
        return answers

    def predict_image(self, data: bytes) -> dict[str, Any]:
        visual = self.need("visual", "an image")
        crop, where = self.face_crop(read_gray_image(data, self.limits))
        answer = class_answer(visual.classes, self.face_proba(crop[None])[0])
        return {**answer, "face": where, "models": {"visual": self.sources["visual"]}}

    def video_faces(self, data: bytes) -> tuple[np.ndarray, np.ndarray]:
        """``(times in s, face probabilities)`` of the sampled frames of a clip in which a face
        was found (none without a visual model)."""
        check_video(data, self.limits)
        times, crops = [], []
        try:
            frames = (
                sample_frames(data, every=self.face_params.every, max_frames=self.limits.video_frames)
                if "visual" in self.models
                else ()
            )
            for _, seconds, gray in frames:
                face = self.detector(gray)
                if face is not None:
                    times.append(seconds)
                    crops.append(face.pixels.reshape(FACE_PIXELS))
        except TooLong as exc:
            raise OverLimit(f"{exc} (serving.max_video_frames)") from exc
        except RuntimeError as exc:
            raise MediaError(str(exc)) from exc
        if not crops:
            return np.zeros(0), np.zeros(
                (0, len(self.models["visual"].classes) if "visual" in self.models else 0)
            )
        images = np.stack(crops)
        images = equalize(images) if self.face_params.equalize else images
        return np.asarray(times), self.face_proba(images)

    def voice_track(self, data: bytes) -> np.ndarray | None:
        """A clip's audio track at the audio model's rate; ``None`` without one (or without an
        audio model)."""
        if "audio" not in self.models:
            return None
        try:
            return decode_audio_track(
                data, sample_rate=self.audio_params.sample_rate, max_seconds=self.limits.video_s
            )
        except TooLong as exc:
            raise OverLimit(f"{exc} (serving.max_video_s)") from exc
        except RuntimeError:
            return None  # a video-only clip: the face path alone

    def predict_video(self, data: bytes) -> dict[str, Any]:
        """Clip-level probabilities: pooled face probabilities of the sampled frames, the
        clip's own voice, and their fusion (F-score weights when the bundle has them)."""
        _, frame_proba = self.video_faces(data)
        out: dict[str, Any] = {"models": {}}
        parts: dict[str, tuple[list[str], np.ndarray]] = {}
        if len(frame_proba):
            visual = self.models["visual"]
            pooled = pool(frame_proba, pooling=self.recipe.pooling)
            out["visual"] = {**class_answer(visual.classes, pooled), "frames_with_face": len(frame_proba)}
            out["models"]["visual"] = self.sources["visual"]
            parts["visual"] = (visual.classes, pooled)
        track = self.voice_track(data)
        if track is not None:
            voice = self.voice([track], same_speaker=False)[0]
            out["audio"] = {k: voice[k] for k in ("label", "probabilities")}
            out["models"].update(voice["models"])
            if "sex" in voice:
                out["sex"] = voice["sex"]
            parts["audio"] = (self.models["audio"].classes, np.array(list(voice["probabilities"].values())))
        if not parts:
            raise MediaError("no face in any sampled frame and no audio track (or no model for them)")
        classes, fused, method = self.fuse_tracks(parts)
        return {**out, **class_answer(classes, fused), "fusion": method}

    def fuse_tracks(
        self, parts: Mapping[str, tuple[Sequence[str], np.ndarray]]
    ) -> tuple[list[str], np.ndarray, str]:
        """``(classes, probabilities, method)`` of the ``visual`` and ``audio`` tracks' class
        probabilities fused as the pipeline fuses them: in the labels both share, by the
        bundle's per-class F-score weights (their mean without them); one track alone as it is."""
        if len(parts) == 1:
            ((name, (classes, proba)),) = parts.items()
            return list(classes), proba, f"{name} only"
        weights = self.recipe.av_weights
        common = (
            list(weights["labels"])
            if weights
            else [
                c
                for c in parts["visual"][0]
                if c in {self.recipe.label_map.get(a, a) for a in parts["audio"][0]}
            ]
        )
        moved = {
            m: to_common_space(p[None], list(classes), self.recipe.label_map, common)
            for m, (classes, p) in parts.items()
        }
        if weights:
            fused = fuse(moved, method="fscore", weights={m: np.asarray(weights[m]) for m in moved})[0]
        else:
            fused = fuse(moved, method="mean")[0]
        return common, fused, "fscore" if weights else "mean"

    def check(self, data: bytes) -> str:
        """The kind of media in ``data``, refused (:class:`MediaError`, :class:`OverLimit`) when
        it is unusable or its header declares more than :attr:`limits`: milliseconds, no decoding."""
        return check(data, self.limits)

    def predict(self, data: bytes) -> dict[str, Any]:
        """The answer for one file's bytes: ``kind``, ``label``, ``probabilities``, ``models``
        and, for a voice, ``sex``. Raises :class:`MediaError` for unusable input."""
        kind = sniff(data)
        if kind == "audio":
            clip = read_audio(data, sample_rate=self.audio_params.sample_rate, limits=self.limits)
            return {"kind": kind, **self.voice([clip], same_speaker=False)[0]}
        if kind == "image":
            return {"kind": kind, **self.predict_image(data)}
        return {"kind": kind, **self.predict_video(data)}

    def predict_audio_batch(self, files: Sequence[bytes]) -> list[dict[str, Any]]:
        """Audio files of one speaker, normalised together by their own statistics."""
        clips = [read_audio(d, sample_rate=self.audio_params.sample_rate, limits=self.limits) for d in files]
        return [{"kind": "audio", **a} for a in self.voice(clips, same_speaker=True)]


def load_folder(directory: str | Path) -> TrainedModel:
    """A saved model folder, remembering where it was read from (for :meth:`Predictor.save_bundle`)."""
    model = load_model(directory)
    model.card["_dir"] = str(Path(directory).resolve())
    return model
