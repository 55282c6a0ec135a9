"""A :class:`~emorec.serving.predictor.Predictor` from a pipeline checkout's own outputs.

The models are ``data/models/<modality>/<model>/``; by default the *champion* of each
modality (the best validation macro-F1 in ``<reports_dir>/metrics.json``), the speaker-sex
model, and the face CNN. The feature parameters come from the params the run used
(``params.yaml`` and any ``--configfile``), the average-speaker statistics from the training
rows of the audio feature table, and the video fusion weights from ``<reports_dir>/av/`` when
that run fused the same audio model.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from emorec.datasets import read_features
from emorec.errors import DataError
from emorec.jsonio import read_json
from emorec.serving.predictor import Predictor, Recipe, audio_baseline, load_folder

#: Feature tables of the default project layout (workflow/rules/common.smk).
AUDIO_FEATURES = "data/features/audio.parquet"


def champion(metrics: Mapping[str, float | int], modality: str) -> str:
    """The ``modality`` model with the best validation macro-F1 (ties: first by name)."""
    scores = {
        k.split(".")[1]: float(v)
        for k, v in metrics.items()
        if k.startswith(f"{modality}.") and k.endswith(".val.macro_f1") and k.count(".") == 3
    }
    if not scores:
        raise DataError(f"no {modality}.<model>.val.macro_f1 in the metrics: has the pipeline run?")
    return max(sorted(scores), key=lambda m: scores[m])


def recipe_of(params: Mapping[str, Any], *, audio_model: str | None, reports_dir: Path) -> Recipe:
    """The feature and fusion settings of a run; video weights only for the audio model they were fitted with."""
    weights = None
    path = reports_dir / "av" / "weights.csv"
    if path.exists() and audio_model == params["fusion"]["audio_model"]:
        frame = pd.read_csv(path)
        weights = {
            "labels": frame["label"].tolist(),
            "audio": frame["audio_weight"].tolist(),
            "visual": frame["visual_weight"].tolist(),
        }
    return Recipe(
        audio_features=dict(params["features"]["audio"]),
        video_faces={**params["features"]["video"], "equalize": params["features"]["faces"]["equalize"]},
        label_map=dict(params["fusion"]["label_map"]),
        pooling=params["fusion"]["av_pooling"],
        av_weights=weights,
    )


def _folder(spec: str | None, modality: str, default: str | None) -> Path | None:
    if spec is None:
        return Path("data/models") / modality / default if default else None
    path = Path(spec)
    return path if path.is_dir() else Path("data/models") / modality / spec


def project_predictor(
    params: Mapping[str, Any],
    *,
    root: str | Path = ".",
    audio: str | None = None,
    sex: str | None = None,
    visual: str | None = None,
) -> Predictor:
    """The predictor of a checkout at ``root``; ``audio`` / ``sex`` / ``visual`` name a model
    (``svm``) or a model folder instead of the defaults. Models that are not there are left
    out, so a checkout with only audio models still predicts audio."""
    root = Path(root)
    reports = root / params["reports_dir"]
    metrics = read_json(reports / "metrics.json") if (reports / "metrics.json").exists() else {}
    defaults = {
        "audio": champion(metrics, "audio") if metrics else params["fusion"]["audio_model"],
        "sex": params["train"]["audio_sex"]["models"][0] if params["train"]["audio_sex"]["models"] else None,
        "visual": params["fusion"]["visual_model"],
    }
    folders = {
        "audio": _folder(audio, "audio", defaults["audio"]),
        "sex": _folder(sex, "audio_sex", defaults["sex"]),
        "visual": _folder(visual, "visual", defaults["visual"]),
    }
    found = {role: root / f if not f.is_absolute() else f for role, f in folders.items() if f is not None}
    asked = {"audio": audio, "sex": sex, "visual": visual}
    models = {}
    for role, folder in found.items():
        if (folder / "card.json").exists():
            models[role] = load_folder(folder)
        elif asked[role]:
            raise DataError(f"{folder}: no trained model there (card.json missing)")
    if not models:
        raise DataError(
            f"no trained models under {root / 'data/models'}: run the pipeline first (snakemake -j8)"
        )
    recipe = recipe_of(
        params, audio_model=models["audio"].card["name"] if "audio" in models else None, reports_dir=reports
    )
    if "audio" in models:
        recipe.audio_baseline = audio_baseline(models["audio"], read_features(root / AUDIO_FEATURES))
    sources = {role: str(folder) for role, folder in found.items() if role in models}
    return Predictor(models, recipe, sources)
