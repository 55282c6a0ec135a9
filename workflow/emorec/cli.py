"""The ``emorec`` command: ``emorec predict PATH...`` (``--timeline``: emotion over time) and
``emorec serve``.

Models come from the checkout's pipeline outputs (the champions, see
:mod:`emorec.serving.project`) unless ``--audio-model`` / ``--visual-model`` name another:
a model (``svm``), a model folder, or an MLflow end-to-end model
(``models:/emorec-audio@champion``, ``runs:/<id>/emorec-audio``), read from
``MLFLOW_TRACKING_URI`` or the params' ``tracking.uri``.
"""

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from emorec.errors import EmorecError
from emorec.runner import set_pipeline_env

REGISTRY_SCHEMES = ("models:/", "runs:/")


def _inputs(paths: Sequence[str]) -> Iterator[Path]:
    """Every path, folders expanded to their files (sorted, hidden ones skipped)."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            yield path


#: The checkout this package runs from: its params.yaml is the Snakefile's config.
CHECKOUT = Path(__file__).resolve().parents[2]


def params_file(root: str | Path) -> Path:
    """``root``'s params.yaml, else the Snakefile's own (a run with ``--directory`` elsewhere
    reads the config beside the Snakefile, so its work folder has none)."""
    here = Path(root) / "params.yaml"
    return here if here.is_file() else CHECKOUT / "params.yaml"


def build_predictor(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The predictor the options ask for (see the module docstring), with the params'
    ``serving`` limits, and that section itself."""
    from emorec.params import load_params
    from emorec.serving.media import Limits

    params = load_params(params_file(args.root), tuple(args.configfile))
    set_pipeline_env(
        determinism=params["determinism"]
    )  # the kernels the pipeline's jobs ran, before TensorFlow loads
    predictor = _predictor(args, params)
    predictor.limits = Limits.of(params["serving"])
    return predictor, params["serving"]


def _predictor(args: argparse.Namespace, params: dict[str, Any]) -> Any:
    from emorec.serving.predictor import Predictor
    from emorec.serving.project import project_predictor

    registry = {
        role: spec
        for role, spec in (("audio", args.audio_model), ("visual", args.visual_model))
        if spec and spec.startswith(REGISTRY_SCHEMES)
    }
    local = {
        role: spec
        for role, spec in (
            ("audio", args.audio_model),
            ("visual", args.visual_model),
            ("sex", args.sex_model),
        )
        if spec and role not in registry
    }
    if not registry:
        return project_predictor(params, root=args.root, **local)
    import mlflow

    from emorec.serving.pyfunc import load_registered

    mlflow.set_tracking_uri(os.environ.get("MLFLOW_TRACKING_URI") or params["tracking"]["uri"])
    parts = {role: load_registered(uri) for role, uri in registry.items()}
    models, sources = {}, {}
    for part in parts.values():
        models.update(part.models)
        sources.update(part.sources)
    recipe = next(iter(parts.values())).recipe
    if "audio" in parts and "visual" in parts:
        recipe.video_faces = parts["visual"].recipe.video_faces
    return Predictor(models, recipe, sources)


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'input':<40} {'kind':<6} {'emotion':<22} {'sex':<16} next"]
    for row in rows:
        if "error" in row:
            lines.append(f"{row['input']:<40} error: {row['error']}")
            continue
        top = sorted(row["probabilities"].items(), key=lambda kv: -kv[1])
        sex = (
            f"{row['sex']['label']} {row['sex']['probabilities'][row['sex']['label']]:.2f}"
            if "sex" in row
            else "-"
        )
        rest = ", ".join(f"{c} {p:.2f}" for c, p in top[1:3])
        lines.append(
            f"{row['input']:<40} {row['kind']:<6} {top[0][0] + f' {top[0][1]:.2f}':<22} {sex:<16} {rest}"
        )
    return "\n".join(lines)


def timeline_command(args: argparse.Namespace, predictor: Any) -> int:
    """Write each input's timeline (``<out>/<name>.timeline.csv``, ``.json``, ``.png``) and
    print one JSON line per input naming them. Exit status 1 if any failed."""
    from emorec.serving.timeline import timeline, write_timeline

    failed = False
    for path in _inputs(args.paths):
        try:
            rows = timeline(predictor, path.read_bytes(), step_s=args.step)
            prefix = Path(args.out or path.parent) / f"{path.name}.timeline"
            written = write_timeline(rows, prefix, title=f"{path.name}: emotion per {args.step:g} s")
            steps = len({r["start_s"] for r in rows})
            answer = {
                "input": str(path),
                "steps": steps,
                "tracks": sorted({r["track"] for r in rows}),
                "files": [str(p) for p in written],
            }
        except OSError as exc:
            answer, failed = {"input": str(path), "error": f"cannot read: {exc.strerror or exc}"}, True
        except EmorecError as exc:
            answer, failed = {"input": str(path), "error": str(exc)}, True
        print(json.dumps(answer), flush=True)
    return 1 if failed else 0


def predict_command(args: argparse.Namespace) -> int:
    """Predict every input; one JSON line (or table row) each. Exit status 1 if any failed."""
    from emorec.serving.media import sniff

    predictor, _ = build_predictor(args)
    if args.timeline:
        return timeline_command(args, predictor)
    files = list(_inputs(args.paths))
    answers: dict[int, dict[str, Any]] = {}
    same_speaker: list[tuple[int, bytes]] = []
    for i, path in enumerate(files):
        try:
            data = path.read_bytes()
            if args.same_speaker and sniff(data) == "audio":
                same_speaker.append((i, data))
                continue
            answers[i] = {"input": str(path), **predictor.predict(data)}
        except OSError as exc:
            answers[i] = {"input": str(path), "error": f"cannot read: {exc.strerror or exc}"}
        except EmorecError as exc:
            answers[i] = {"input": str(path), "error": str(exc)}
        if args.format == "json":
            print(json.dumps(answers[i]), flush=True)
    if same_speaker:
        try:
            batch = predictor.predict_audio_batch([d for _, d in same_speaker])
        except EmorecError as exc:
            batch = [{"error": str(exc)}] * len(same_speaker)
        for (i, _), answer in zip(same_speaker, batch):
            answers[i] = {"input": str(files[i]), **answer}
            if args.format == "json":
                print(json.dumps(answers[i]), flush=True)
    if args.format == "table":
        print(_table([answers[i] for i in sorted(answers)]))
    return 1 if any("error" in a for a in answers.values()) else 0


def serve_command(args: argparse.Namespace) -> int:
    """Serve the upload page and ``/predict`` until SIGTERM or Ctrl-C, which stop it within
    a few seconds even in the middle of a prediction: in-flight requests get 2 s to finish,
    then the process exits without waiting for the prediction threads."""
    import uvicorn

    from emorec.serving.app import create_app

    predictor, serving = build_predictor(args)
    workers = serving["workers"] or os.cpu_count() or 1
    max_mb = args.max_mb if args.max_mb is not None else serving["max_upload_mb"]
    app = create_app(
        predictor,
        max_bytes=int(max_mb * 1024 * 1024),
        workers=workers,
        queue=serving["queue"],
        timeout_s=serving["request_timeout_s"],
    )
    print(
        f"emorec: serving on http://{args.host}:{args.port}/ ({workers} workers)", file=sys.stderr, flush=True
    )
    uvicorn.Server(
        uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", timeout_graceful_shutdown=2)
    ).run()
    sys.stderr.flush()
    os._exit(0)  # a prediction thread still decoding must not hold the process: nothing is left to save


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="emorec", description="Emotion (and speaker sex) from audio, face images and video clips."
    )
    commands = top.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--audio-model",
        help="svm, a model folder, or models:/emorec-audio@champion (default: the checkout's champion)",
    )
    common.add_argument("--visual-model", help="cnn, a model folder, or models:/emorec-visual@champion")
    common.add_argument("--sex-model", help="the speaker-sex model (default: train.audio_sex's first)")
    common.add_argument(
        "--configfile",
        action="append",
        default=[],
        help="the profile the models were trained with, e.g. config/real.yaml",
    )
    common.add_argument(
        "--root", default=".", help="the pipeline's work folder, where data/ and reports/ are (default: here)"
    )
    predict = commands.add_parser("predict", parents=[common], help="predict files or folders of files")
    predict.add_argument("paths", nargs="+", metavar="PATH")
    predict.add_argument("--format", choices=("json", "table"), default="json")
    predict.add_argument(
        "--same-speaker",
        action="store_true",
        help="the audio inputs are one speaker: normalise them by their own statistics",
    )
    predict.add_argument(
        "--timeline",
        action="store_true",
        help="per-second face, voice and fused probabilities of each video or audio file: CSV, JSON and a PNG plot",
    )
    predict.add_argument("--step", type=float, default=1.0, help="--timeline: seconds per step (default 1)")
    predict.add_argument("--out", help="--timeline: folder for the files (default: beside each input)")
    predict.set_defaults(run=predict_command)
    serve = commands.add_parser("serve", parents=[common], help="the upload page and /predict on 127.0.0.1")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--max-mb", type=float, help="largest upload accepted (MB; default: params serving.max_upload_mb)"
    )
    serve.set_defaults(run=serve_command)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return int(args.run(args))
    except EmorecError as exc:
        print(f"emorec: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
