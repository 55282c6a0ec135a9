"""Validation of ``params.yaml`` against its JSON schema, with errors that name the key."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from emorec.corpora import generic, image_folders
from emorec.errors import ParamsError

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "params.schema.yaml"


def load_schema() -> dict[str, Any]:
    """The params JSON schema (stored as YAML in ``workflow/schemas/``)."""
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _describe(error: jsonschema.ValidationError) -> str:
    """One line naming the dotted key and what was expected of it."""
    key = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        names = ", ".join(f"{key}.{e}" if error.absolute_path else e for e in extra)
        return f"unknown key {names} (allowed here: {allowed})"
    if error.validator == "required":
        return f"{key}: {error.message}"
    expected = {
        k: v
        for k, v in error.schema.items()
        if k
        in (
            "type",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "minLength",
            "uniqueItems",
            "enum",
        )
    }
    return f"{key}: got {error.instance!r}, expected {expected} ({error.message})"


def validate_params(config: Mapping[str, Any], *, source: str = "params.yaml") -> None:
    """Raise :class:`ParamsError` listing every key of ``config`` that breaks the schema.

    Beyond the schema, checks that held-out actor lists do not overlap, that a face CNN's
    per-block convolution counts match its blocks, and that the fused models are among the
    trained ones.
    """
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(dict(config)), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_describe(e) for e in errors]
    if not problems:
        rav = config["corpora"]["ravdess"]
        both = sorted(set(rav["val_actors"]) & set(rav["test_actors"]))
        if both:
            problems.append(f"corpora.ravdess: actors {both} are in both val_actors and test_actors")
        for corpus in config["corpora"]["speech"]:
            if corpus not in config["corpora"]:
                problems.append(
                    f"corpora.speech lists {corpus!r} but corpora.{corpus} (archive, val_speakers, test_speakers) is missing"
                )
        for name, spec in config["corpora"].items():
            if isinstance(spec, Mapping) and generic.is_generic(spec):
                problems += generic.spec_errors(name, spec)
        for corpus in face_corpora(config):
            if corpus != "fer2013" and not image_folders.is_face_set(config["corpora"].get(corpus)):
                problems.append(
                    f"corpora.faces lists {corpus!r} but corpora.{corpus} is neither fer2013 nor a set of kind image_folders"
                )
        for corpus in config["corpora"]["speech"]:
            if image_folders.is_face_set(config["corpora"].get(corpus)):
                problems.append(
                    f"corpora.speech lists {corpus!r}, a face-image set (list it in corpora.faces)"
                )
        cv = config["evaluation"]["cv"]
        if cv["folds"] != 0 and cv["corpus"] not in config["corpora"]["speech"]:
            problems.append(
                f"evaluation.cv.corpus: {cv['corpus']!r} is not in corpora.speech {config['corpora']['speech']}"
            )
        sex = config["train"]["audio_sex"]
        problems += [
            f"train.audio_sex.models lists {name!r} but train.audio_sex.{name} (its grid) is missing"
            for name in sex["models"]
            if name not in sex
        ]
        cnn = config["train"]["visual"].get("cnn", {})
        counts = cnn.get("convs_per_block", 1)
        if isinstance(counts, list) and len(counts) != len(cnn["filters"]):
            problems.append(
                f"train.visual.cnn.convs_per_block: {len(counts)} counts for {len(cnn['filters'])} blocks (filters {cnn['filters']})"
            )
        for modality in ("audio", "visual"):
            chosen, trained = config["fusion"][f"{modality}_model"], config["train"][modality]["models"]
            if chosen not in trained:
                problems.append(
                    f"fusion.{modality}_model: {chosen!r} is not trained (train.{modality}.models: {trained})"
                )
    if problems:
        raise ParamsError(f"invalid {source}:\n  - " + "\n  - ".join(problems))


def face_corpora(config: Mapping[str, Any]) -> list[str]:
    """The face corpora the face model reads (``corpora.faces``; FER2013 alone by default)."""
    return list(config["corpora"].get("faces", ["fer2013"]))


def _merged(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            _merged(out[key], value)
            if isinstance(value, Mapping) and isinstance(out.get(key), dict)
            else value
        )
    return out


def load_params(path: str | Path = "params.yaml", configfiles: tuple[str | Path, ...] = ()) -> dict[str, Any]:
    """``params.yaml`` with each ``--configfile`` merged over it key by key, as Snakemake
    merges them, validated."""
    config: dict[str, Any] = yaml.safe_load(Path(path).read_text())
    for extra in configfiles:
        config = _merged(config, yaml.safe_load(Path(extra).read_text()) or {})
    validate_params(config, source=" + ".join(map(str, (path, *configfiles))))
    return config
