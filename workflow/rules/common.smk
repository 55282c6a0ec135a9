# Config validation and helpers shared by every rule file.
import os
from pathlib import Path

from emorec.archives import MISSING_HINT
from emorec.codedeps import module_files
from emorec.errors import DataError
from emorec.locks import clear_stale_locks
from emorec.corpora.generic import is_generic
from emorec.params import face_corpora, validate_params
from emorec.runner import set_pipeline_env

validate_params(config, source="config (params.yaml + any --configfile / --config)")
# Jobs inherit the environment: in portable mode it pins the CPU kernels every job loads.
set_pipeline_env(determinism=config["determinism"])
if workflow.is_main_process and not workflow.dryrun:
    clear_stale_locks()  # a run killed with SIGKILL resumes without --unlock

#: Where the demo rules write their corpora; configured archives elsewhere must exist.
DEMO_ARCHIVES = {
    "ravdess": "data/raw/demo/ravdess_demo.zip",
    "fer2013": "data/raw/demo/fer2013_demo.csv",
    "ravdess_video": "data/raw/demo/ravdess_video_demo.zip",
}
#: Speech corpora whose clips feed the audio models (params: corpora.speech).
SPEECH_CORPORA = list(config["corpora"]["speech"])
#: Speech corpora beside RAVDESS (one ingest rule): TESS, SAVEE and CREMA-D by their own
#: parsers, and every corpus the params declare with a ``kind`` (emorec.corpora.generic).
NAMED_SPEECH_CORPORA = ["tess", "savee", "cremad"] + [
    name for name, spec in config["corpora"].items() if isinstance(spec, dict) and is_generic(spec)
]
#: Face corpora whose images feed the face model (params: corpora.faces; FER2013 by default),
#: and those of them declared as image folders (emorec.corpora.image_folders).
FACE_CORPORA = face_corpora(config)
FACE_SETS = [c for c in FACE_CORPORA if c != "fer2013"]
#: Every corpus this run ingests.
CORPORA = [*SPEECH_CORPORA, *FACE_CORPORA]


def is_demo_path(path, corpus):
    """Whether ``path`` is where the demo rules write ``corpus``'s demo archive."""
    demo = DEMO_ARCHIVES.get(corpus)
    return demo is not None and os.path.normpath(path) == os.path.normpath(demo)


def is_demo_archive(corpus):
    return is_demo_path(config["corpora"][corpus]["archive"], corpus)


def archive(corpus):
    """The configured archive of ``corpus``; fails at once, naming it, when it is missing."""
    path = config["corpora"][corpus]["archive"]
    if not is_demo_archive(corpus) and not os.path.exists(path):
        raise DataError(f"corpora.{corpus}.archive: {path} does not exist. {MISSING_HINT}")
    return path


for _corpus in CORPORA:
    archive(_corpus)


def video_archives():
    """The configured RAVDESS video archives (corpora.ravdess_video.archives); each must exist
    unless it is the demo's, which a rule builds."""
    paths = list(config["corpora"]["ravdess_video"]["archives"])
    for path in paths:
        if not is_demo_path(path, "ravdess_video") and not os.path.exists(path):
            raise DataError(f"corpora.ravdess_video.archives: {path} does not exist. {MISSING_HINT}")
    return paths


#: Whether the audio-visual path (video ingest, faces, clip predictions, av. fusion) runs.
USES_VIDEO = bool(video_archives())


#: The folder holding the rule scripts and the emorec package.
WORKFLOW_DIR = Path(workflow.basedir) / "workflow"


def package_code(script):
    """Inputs naming the package modules a script runs: editing one (or checking out another
    commit) reruns the rules that run it, which Snakemake's own code trigger would miss."""
    return [os.path.relpath(path) for path in module_files(WORKFLOW_DIR / "scripts" / script, WORKFLOW_DIR)]


def threads_of(stage):
    return config["resources"][stage]["threads"]


def mem_of(stage):
    return config["resources"][stage]["mem_mb"]


def runtime_of(stage):
    return config["resources"][stage]["runtime"]


def audio_shards(corpus):
    n = config["features"]["audio"]["shards"]
    return [f"data/features/{corpus}/shards/{i:03d}.parquet" for i in range(n)]


def ingest_outputs(corpus):
    return {
        "manifest": f"data/interim/{corpus}/manifest.parquet",
        "rejects": f"data/interim/{corpus}/rejects.parquet",
        "summary": f"data/interim/{corpus}/summary.json",
    }


#: The feature table each modality's models read.
FEATURE_TABLES = {
    "audio": "data/features/audio.parquet",  # every corpus of corpora.speech
    "visual": "data/features/faces.parquet",  # every corpus of corpora.faces
    "audio_sex": "data/features/audio_sex.parquet",  # the same clips, labelled with speaker sex
}
SKLEARN_AUDIO = ["svm", "random_forest", "gradient_boosting", "mlp"]
#: How the audio models read the feature table (descriptor groups, speaker normalisation).
AUDIO_INPUT = {"descriptors": config["train"]["audio"]["descriptors"], "speaker_norm": config["train"]["audio"]["speaker_norm"]}
#: Speaker-sex models read raw descriptors: per-speaker normalisation would remove the voice's pitch level.
SEX_INPUT = {"descriptors": config["train"]["audio_sex"]["descriptors"], "speaker_norm": False}


def trained_models():
    """(modality, model) of every model params.yaml asks for."""
    return [(m, name) for m in ("audio", "visual", "audio_sex") for name in config["train"][m]["models"]]


def model_files(modality, name):
    """The files a trained model leaves in data/models/<modality>/<name>/."""
    folder = f"data/models/{modality}/{name}"
    kind = "model.skops" if name in SKLEARN_AUDIO else "model.keras"
    return {"model": f"{folder}/{kind}", "card": f"{folder}/card.json"}


#: Where results go: reports/ for the demo (committed), e.g. reports/real/ for a real-data profile.
REPORTS = config["reports_dir"].rstrip("/")


def evaluation_files(modality, name):
    """What evaluating a model writes into <reports_dir>/<modality>/<name>/."""
    folder = f"{REPORTS}/{modality}/{name}"
    names = ("predictions.parquet", "per_class.csv", "confusion.csv", "confusion.png", "metrics.json")
    return {n.replace(".", "_"): f"{folder}/{n}" for n in names}


FUSION_FILES = {
    n.replace(".", "_"): f"{REPORTS}/fusion/{n}"
    for n in ("weights.csv", "predictions.parquet", "per_class.csv", "confusion.csv", "confusion.png", "f1.png", "metrics.json")
}


def reported(files, category, subcategory):
    """``files`` with its plots and per-class tables flagged for ``snakemake --report``, each
    with its caption from workflow/report/, under ``category`` / ``subcategory``."""
    captions = {"confusion_png": "confusion.rst", "f1_png": "f1.rst", "per_class_csv": "per_class.rst"}
    return {
        key: report(path, caption=f"../report/{captions[key]}", category=category, subcategory=subcategory)
        if key in captions else path
        for key, path in files.items()
    }


AV_FILES = {
    n.replace(".", "_"): f"{REPORTS}/av/{n}"
    for n in ("clips.parquet", "weights.csv", "predictions.parquet", "per_class.csv", "confusion.csv", "confusion.png", "f1.png", "metrics.json")
}
#: The video path's tables: manifest (ingest_outputs("ravdess_video")), faces and audio tracks.
VIDEO_TABLES = {
    "faces": "data/features/ravdess_video/faces.parquet",
    "faces_summary": "data/features/ravdess_video/faces_summary.json",
    "audio": "data/features/ravdess_video/audio.parquet",
}


#: Cross-validation folds: a count of consecutive speaker groups, or explicit speaker lists.
CV_FOLDS = config["evaluation"]["cv"]["folds"]
CV_FOLD_COUNT = CV_FOLDS if isinstance(CV_FOLDS, int) else len(CV_FOLDS)


def cv_fold_files(model):
    return [f"{REPORTS}/cv/audio/{model}/fold_{k}.json" for k in range(CV_FOLD_COUNT)]


def cv_files(model):
    """What cross-validating a scikit-learn audio model writes: flat metrics and a row per fold."""
    return {"metrics": f"{REPORTS}/cv/audio/{model}/metrics.json", "folds": f"{REPORTS}/cv/audio/{model}/folds.csv"}


def cv_models():
    """The scikit-learn audio models cross-validated by speaker (none when evaluation.cv.folds is 0)."""
    if CV_FOLD_COUNT == 0:
        return []
    return [n for n in config["train"]["audio"]["models"] if n in SKLEARN_AUDIO]


def report_inputs():
    """Every metrics file <reports_dir>/metrics.json merges."""
    return (
        [evaluation_files(m, n)["metrics_json"] for m, n in trained_models()]
        + [cv_files(n)["metrics"] for n in cv_models()]
        + [FUSION_FILES["metrics_json"]]
        + ([AV_FILES["metrics_json"]] if USES_VIDEO else [])
    )


def uses_demo_data():
    return all(is_demo_archive(c) for c in CORPORA)
