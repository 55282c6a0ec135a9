"""Log a finished pipeline version to MLflow: the one place that writes to it.

One parent run per pipeline version (flattened params; tags for the git commit and dirty
flag, the ``dvc.lock`` hash, every raw archive's SHA-256, demo or real data) with a nested
run per model (params, metrics, per-class table, confusion PNG, predictions, the model with a
signature and input example, registered as ``emorec-<modality>-<model>``) and one for fusion.
The parent run also holds the end-to-end models that take raw files, ``emorec-audio`` (the
champion audio model and the speaker-sex model) and ``emorec-visual``, each version aliased
``champion``.

The version is a hash of the params, ``reports/metrics.json`` and the git state: a run with
that version already in the experiment is reused, so re-running adds no duplicate. A run of
the version that never finished (the tracking server stopped mid-way) is deleted with its
nested runs and registered model versions before the version is logged again.
"""

import hashlib
import json
import logging
import os
import subprocess
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from emorec.archives import file_sha256
from emorec.datasets import model_input, read_features
from emorec.errors import EmorecError
from emorec.jsonio import read_json, write_json
from emorec.models.store import load_model, read_card, read_timings

log = logging.getLogger(__name__)

VERSION_TAG = "emorec.version"
#: What a served model needs; given so MLflow does not spend ~12 s inferring it.
REQUIREMENTS = {
    "sklearn": ("scikit-learn", "numpy", "scipy", "pandas"),
    "keras": ("keras", "tensorflow-cpu", "numpy"),
}


@dataclass(frozen=True)
class TrackedModel:
    """A trained model, its evaluation folder and the feature table it reads."""

    modality: str
    name: str
    model_dir: str
    report_dir: str
    features: str

    @property
    def registered_name(self) -> str:
        return f"emorec-{self.modality}-{self.name}".replace("_", "-")


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as ``dotted.key -> str`` (lists and nulls as JSON)."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value if isinstance(value, str) else json.dumps(value)
    return flat


def git_state(root: str | Path = ".") -> tuple[str, bool]:
    """The commit checked out in ``root`` and whether tracked files differ from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown", True
    return commit, bool(dirty)


def pipeline_tags(
    *, params: Mapping[str, Any], metrics_path: str | Path, summaries: Sequence[str | Path], demo: bool
) -> dict[str, str]:
    """Tags of the parent run, including :data:`VERSION_TAG`."""
    commit, dirty = git_state()
    tags = {
        "git.commit": commit,
        "git.dirty": str(dirty).lower(),
        "dvc.lock.sha256": file_sha256("dvc.lock") if Path("dvc.lock").exists() else "none",
        "data": "demo" if demo else "real",
    }
    for path in summaries:
        summary = read_json(path)
        tags[f"archive.{summary['corpus']}"] = summary["archive"]
        tags[f"archive.{summary['corpus']}.sha256"] = summary["archive_sha256"]
    identity = (
        json.dumps({"params": params, "commit": commit, "dirty": dirty}, sort_keys=True).encode()
        + Path(metrics_path).read_bytes()
    )
    tags[VERSION_TAG] = hashlib.sha256(identity).hexdigest()[:16]
    return tags


def _requirements(framework: str) -> list[str]:
    return [f"{name}=={version(name)}" for name in REQUIREMENTS[framework]]


def _log_model(model: TrackedModel, run_id: str, register: bool) -> str:
    """Log the model through its MLflow flavour with a signature and a 2-row input example
    under ``model/`` of the run, and register it; returns the model's URI."""
    import mlflow
    from mlflow.models import infer_signature

    trained = load_model(model.model_dir)
    example = model_input(read_features(model.features).slice(0, 2), trained.input, **trained.input_options)
    signature = infer_signature(example, trained.predict_proba(example))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        common = {
            "signature": signature,
            "input_example": example,
            "pip_requirements": _requirements(trained.framework),
        }
        if trained.framework == "keras":
            path.mkdir()  # mlflow.keras writes the input example before creating its folder
            mlflow.keras.save_model(trained.estimator, str(path), **common)
        else:
            mlflow.sklearn.save_model(
                trained.estimator,
                str(path),
                pyfunc_predict_fn="predict_proba",
                serialization_format="cloudpickle",
                **common,
            )
        mlflow.log_artifacts(str(path), artifact_path="model")
    uri = f"runs:/{run_id}/model"
    if register:
        version_info = mlflow.register_model(uri, model.registered_name)
        uri = f"models:/{model.registered_name}/{version_info.version}"
    return uri


#: The end-to-end models (raw files in): registered name -> the predictor roles they hold.
END_TO_END = {"emorec-audio": ("audio", "sex"), "emorec-visual": ("visual",)}
#: Where each predictor role's trained model sits: data/models/<modality>/.
ROLE_MODALITY = {"audio": "audio", "sex": "audio_sex", "visual": "visual"}


def _log_end_to_end(
    params: Mapping[str, Any], model_uris: Mapping[str, str], register: bool
) -> dict[str, str]:
    """Log the champion audio model with the speaker-sex model, and the face model, as
    end-to-end pyfunc models taking raw files (:mod:`emorec.serving.pyfunc`)."""
    from emorec.serving.predictor import Predictor
    from emorec.serving.project import project_predictor
    from emorec.serving.pyfunc import log_end_to_end

    full = project_predictor(params)
    logged = {}
    for name, roles in END_TO_END.items():
        models = {r: full.models[r] for r in roles if r in full.models}
        if not models:
            continue
        sources = {
            r: model_uris.get(f"{ROLE_MODALITY[r]}.{m.card['name']}", full.sources[r])
            for r, m in models.items()
        }
        logged[name] = log_end_to_end(Predictor(models, full.recipe, sources), name=name, register=register)
        log.info(
            "logged end-to-end model %s (%s)",
            logged[name],
            ", ".join(f"{r}: {s}" for r, s in sources.items()),
        )
    return logged


def _seconds(model_dir: str | Path) -> dict[str, float]:
    timings = read_timings(model_dir)
    return {"training_seconds": float(timings["training_seconds"])} if timings else {}


def _metrics_under(metrics: Mapping[str, float | int], prefix: str) -> dict[str, float]:
    return {k.removeprefix(prefix + "."): float(v) for k, v in metrics.items() if k.startswith(prefix + ".")}


#: Experiment tag that makes MLflow's UI open the experiment on its runs table (model
#: training), not on the GenAI overview it shows an experiment of unknown kind.
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"


def _experiment_id(mlflow: Any, name: str, uri: str) -> str:
    """The experiment's id, created when missing: artifacts in ./mlruns for a local store, where
    the server says for a tracking server (its own artifact root, shared by the team)."""
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        local = not uri.startswith(("http://", "https://", "databricks"))
        experiment_id = mlflow.create_experiment(
            name,
            artifact_location=Path("mlruns").resolve().as_uri() if local else None,
            tags={KIND_TAG: KIND},
        )
    else:
        experiment_id = experiment.experiment_id
        if experiment.tags.get(KIND_TAG) != KIND:  # made by an older emorec, or by MLflow's UI
            mlflow.MlflowClient().set_experiment_tag(experiment_id, KIND_TAG, KIND)
    return experiment_id


def _log_training_data(model: TrackedModel, card: Mapping[str, Any]) -> None:
    """The feature table a model was trained on, as its run's input dataset (named by its
    path, digest = the start of the card's SHA-256): the UI's Dataset column."""
    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MLflow registers its local-file source twice
        source = resolve_dataset_source(Path(model.features).resolve().as_uri())
    mlflow.log_input(
        MetaDataset(source, name=model.features, digest=card["data"]["sha256"][:12]),  # type: ignore[abstract]  # MLflow declares profile abstract yet instantiates it itself
        context="training",
    )


class TrackingError(EmorecError):
    """The MLflow tracking server failed or stopped answering while a version was logged.
    (Here, not in :mod:`emorec.errors`: every rule depends on that module's code, so a new
    class there would rerun every rule, the 2-hour face CNN included.)"""


@contextmanager
def _tracking_errors(uri: str, reports: Path) -> Iterator[None]:
    """A tracking server that fails or stops answering becomes one clear :class:`TrackingError`."""
    import requests
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (MlflowException, requests.RequestException) as exc:
        raise TrackingError(
            f"MLflow at {uri} failed while logging this pipeline version: {str(exc).splitlines()[0][:300]}. "
            f"The results are unchanged in {reports}/; run snakemake again when the server answers "
            "(the unfinished run is then replaced, not duplicated)."
        ) from exc


def _discard_unfinished(mlflow: Any, experiment_id: str, version: str) -> None:
    """Delete the runs of ``version`` that never finished, their nested runs and the model
    versions they registered, so logging the version again leaves it there once."""
    client = mlflow.MlflowClient()
    runs = mlflow.search_runs(
        experiment_ids=[experiment_id],
        filter_string=f"tags.`{VERSION_TAG}` = '{version}'",
        output_format="list",
    )
    log.info(
        "version %s has %d earlier runs in the experiment (%s)",
        version,
        len(runs),
        ", ".join(r.info.status for r in runs) or "none",
    )
    for parent in (run for run in runs if run.info.status != "FINISHED"):
        children = mlflow.search_runs(
            experiment_ids=[experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
            output_format="list",
        )
        for run in [*children, parent]:
            for model_version in client.search_model_versions(f"run_id = '{run.info.run_id}'"):
                client.delete_model_version(model_version.name, model_version.version)
            client.delete_run(run.info.run_id)
        log.warning(
            "deleted unfinished run %s of version %s (%d nested)", parent.info.run_id, version, len(children)
        )


def track_pipeline(
    *,
    params: Mapping[str, Any],
    metrics_path: str | Path,
    models: Sequence[TrackedModel],
    fusion_dir: str | Path,
    summaries: Sequence[str | Path],
    demo: bool,
    uri: str,
    experiment: str,
    register: bool,
    out_path: str | Path,
) -> dict[str, Any]:
    """Log this pipeline version (unless already logged) and write its run ids to ``out_path``."""
    import mlflow

    uri = os.environ.get("MLFLOW_TRACKING_URI") or uri
    with _tracking_errors(uri, Path(metrics_path).parent):
        mlflow.set_tracking_uri(uri)
        experiment_id = _experiment_id(mlflow, experiment, uri)
        mlflow.set_experiment(experiment_id=experiment_id)  # nested runs land in the same experiment
        tags = pipeline_tags(params=params, metrics_path=metrics_path, summaries=summaries, demo=demo)
        existing = mlflow.search_runs(
            experiment_ids=[experiment_id],
            filter_string=f"tags.`{VERSION_TAG}` = '{tags[VERSION_TAG]}' and attributes.status = 'FINISHED'",
            output_format="list",
        )
        record: dict[str, Any] = {"tracking_uri": uri, "experiment": experiment, "version": tags[VERSION_TAG]}
        if existing:
            log.info(
                "pipeline version %s is already run %s; nothing new to log",
                tags[VERSION_TAG],
                existing[0].info.run_id,
            )
            write_json(out_path, {**record, "run_id": existing[0].info.run_id})
            return record
        _discard_unfinished(mlflow, experiment_id, tags[VERSION_TAG])

        metrics = read_json(metrics_path)
        nested: dict[str, str] = {}
        model_uris: dict[str, str] = {}
        with mlflow.start_run(
            experiment_id=experiment_id, run_name=f"pipeline {tags['git.commit'][:8]}", tags=tags
        ) as parent:
            mlflow.log_params(flatten(params))
            mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
            mlflow.log_artifact(str(metrics_path))
            for model in models:
                prefix = f"{model.modality}.{model.name}"
                with mlflow.start_run(run_name=prefix, nested=True) as run:
                    card = read_card(model.model_dir)
                    mlflow.set_tags(
                        {
                            "modality": model.modality,
                            "model": model.name,
                            "data.sha256": card["data"]["sha256"],
                        }
                    )
                    mlflow.log_params(
                        flatten(
                            {
                                "hyper_parameters": card["hyper_parameters"],
                                "best_params": card.get("best_params", {}),
                                "seed": card["seed"],
                                "classes": card["classes"],
                            }
                        )
                    )
                    mlflow.log_metrics({**_metrics_under(metrics, prefix), **_seconds(model.model_dir)})
                    _log_training_data(model, card)
                    mlflow.log_artifacts(model.report_dir, artifact_path="evaluation")
                    mlflow.log_artifact(str(Path(model.model_dir) / "card.json"))
                    uri_of_model = _log_model(model, run.info.run_id, register)
                    nested[prefix] = run.info.run_id
                    model_uris[prefix] = uri_of_model
                    log.info("logged %s (run %s, model %s)", prefix, run.info.run_id, uri_of_model)
            with mlflow.start_run(run_name="fusion", nested=True) as run:
                mlflow.log_params(flatten({"fusion": params["fusion"]}))
                mlflow.log_metrics(_metrics_under(metrics, "fusion"))
                mlflow.log_artifacts(str(fusion_dir), artifact_path="fusion")
                nested["fusion"] = run.info.run_id
            end_to_end = _log_end_to_end(params, model_uris, register)
        write_json(
            out_path, {**record, "run_id": parent.info.run_id, "nested": nested, "end_to_end": end_to_end}
        )
        log.info(
            "logged pipeline version %s as run %s with %d nested runs",
            tags[VERSION_TAG],
            parent.info.run_id,
            len(nested),
        )
        return record
