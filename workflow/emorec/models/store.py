"""A trained model on disk: one folder with the model file and ``card.json``.

scikit-learn models are saved with skops (loading never runs arbitrary pickled code: only
scikit-learn / NumPy / SciPy types are trusted), Keras models in the native ``.keras``
format. The card says what the model takes (:data:`emorec.datasets.INPUTS`), which classes
its outputs are, how it was trained and on which data (SHA-256); how long it took goes to
the logs (:func:`timings_path`), since the files here are hashed (dvc.lock).
"""

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emorec.errors import DataError
from emorec.jsonio import read_json, write_json

MODEL_FILES = {"sklearn": "model.skops", "keras": "model.keras"}
#: The time every member of a saved model's zip carries (the earliest a zip can hold), and
#: Keras' ``date_saved``: the same weights give the same bytes on every run (dvc.lock).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
KERAS_DATE_SAVED = "1980-01-01@00:00:00"
#: Module prefixes whose types a skops file may contain.
TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


@dataclass(frozen=True)
class TrainedModel:
    """A loaded model with its card; ``predict_proba`` returns one column per class."""

    framework: str
    estimator: Any
    card: dict[str, Any]

    @property
    def classes(self) -> list[str]:
        return list(self.card["classes"])

    @property
    def input(self) -> str:
        return str(self.card["input"])

    @property
    def input_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`emorec.datasets.model_input` the model was trained with."""
        return dict(self.card.get("input_options", {}))

    def single_view(self) -> "TrainedModel":
        """The model without its test-time averaging (the network inside a Keras model that
        :func:`emorec.models.keras_nets.with_test_time_averaging` wrapped): one view of each
        input, a tenth of the work with ten crops. Any other model is returned as it is."""
        if self.framework != "keras" or not self.estimator.name.endswith("_tta"):
            return self
        return TrainedModel(
            "keras", self.estimator.get_layer(self.estimator.name.removesuffix("_tta")), self.card
        )

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities [shape=(n, len(classes))] for model inputs ``x``."""
        if len(x) == 0:
            return np.zeros((0, len(self.classes)))
        if self.framework == "keras":
            return np.asarray(self.estimator.predict(x, batch_size=256, verbose=0), dtype=np.float64)
        return np.asarray(self.estimator.predict_proba(x), dtype=np.float64)


def save_model(estimator: Any, directory: str | Path, *, framework: str, card: dict[str, Any]) -> None:
    """Write ``estimator`` and ``card.json`` (with ``framework`` and file name) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MODEL_FILES[framework]
    if framework == "keras":
        estimator.save(path)
    else:
        import skops.io

        skops.io.dump(estimator, path)
    _without_save_times(path)
    card = {**card, "framework": framework, "file": path.name}
    write_json(directory / "card.json", card)


def _without_save_times(path: Path) -> None:
    """Rewrite the zip at ``path`` (``.keras`` and ``.skops`` files are zips) with what is the
    same on every run: :data:`ZIP_TIME` on every member, Keras' ``metadata.json`` dated
    :data:`KERAS_DATE_SAVED`, and object ids (memory addresses: skops' in ``schema.json`` and
    as array file names, Keras' ``shared_object_id`` in ``config.json``) renumbered in order
    of appearance."""
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: (info, archive.read(info)) for info in archive.infolist()}
    renamed: dict[str, str] = {}
    if "schema.json" in members:
        info, data = members["schema.json"]
        schema = _renumbered(json.loads(data), "__id__", {}, renamed)
        members["schema.json"] = (info, json.dumps(schema, indent=2).encode())
    if "config.json" in members:
        info, data = members["config.json"]
        config = _renumbered(json.loads(data), "shared_object_id", {}, {})
        members["config.json"] = (info, json.dumps(config).encode())
    if "metadata.json" in members:
        info, data = members["metadata.json"]
        metadata = json.loads(data)
        if "date_saved" in metadata:
            metadata["date_saved"] = KERAS_DATE_SAVED
        members["metadata.json"] = (info, json.dumps(metadata, indent=4).encode())
    rewritten = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(rewritten, "w") as archive:
        for name, (info, data) in sorted(members.items(), key=lambda m: renamed.get(m[0], m[0])):
            member = zipfile.ZipInfo(renamed.get(name, name), date_time=ZIP_TIME)
            member.compress_type, member.external_attr = info.compress_type, info.external_attr
            archive.writestr(member, data)
    rewritten.replace(path)


def _renumbered(node: Any, key: str, ids: dict[int, int], files: dict[str, str]) -> Any:
    """``node`` (parsed JSON) with every integer under ``key`` replaced by its order of
    appearance (one object keeps one number) and every ``.npy`` file named under ``file``
    renamed after its own order (``files``: old name -> new name)."""
    if isinstance(node, list):
        return [_renumbered(item, key, ids, files) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for name, value in node.items():
        if name == key and isinstance(value, int):
            value = ids.setdefault(value, len(ids) + 1)
        elif name == "file" and isinstance(value, str) and value.endswith(".npy"):
            value = files.setdefault(value, f"{len(files) + 1:06d}.npy")
        out[name] = _renumbered(value, key, ids, files)
    return out


def timings_path(model_dir: str | Path) -> Path:
    """Where the job that trains the model in ``model_dir`` (``data/models/<modality>/<name>``)
    writes its seconds: beside its log, ``logs/train/<modality>_<name>.timings.json``. Not in
    the card: two runs never take the same time, and the card is a hashed output (dvc.lock)."""
    folder = Path(model_dir)
    return Path("logs/train") / f"{folder.parent.name}_{folder.name}.timings.json"


def read_timings(model_dir: str | Path, root: str | Path = ".") -> dict[str, Any]:
    """The training job's ``training_seconds`` and ``epoch_seconds`` (one list per network)
    from :func:`timings_path` under ``root``; a card from before they moved there keeps
    them itself. ``{}`` when neither has them."""
    path = Path(root) / timings_path(model_dir)
    if path.is_file():
        return read_json(path)
    card = read_card(Path(root) / model_dir)
    if "training_seconds" not in card:
        return {}
    history = card.get("history", [])
    networks = history if isinstance(history, list) else [history]  # one dict before ensembles
    return {
        "training_seconds": card["training_seconds"],
        "epoch_seconds": [n["epoch_seconds"] for n in networks if "epoch_seconds" in n],
    }


def read_card(directory: str | Path) -> dict[str, Any]:
    """The ``card.json`` of a saved model."""
    return read_json(Path(directory) / "card.json")


def load_model(directory: str | Path) -> TrainedModel:
    """Load the model saved in ``directory`` by :func:`save_model`."""
    card = read_card(directory)
    path = Path(directory) / card["file"]
    if card["framework"] == "keras":
        import keras

        from emorec.models import keras_nets

        if keras_nets.portable():
            keras_nets.cpu_independent()  # predictions with the same bits on every CPU
        return TrainedModel("keras", keras.saving.load_model(path), card)
    import skops.io

    types = skops.io.get_untrusted_types(file=path)
    foreign = [t for t in types if not t.startswith(TRUSTED_MODULES)]
    if foreign:
        raise DataError(f"{path}: refusing to load types outside scikit-learn/NumPy/SciPy: {foreign}")
    return TrainedModel("sklearn", skops.io.load(path, trusted=types), card)
