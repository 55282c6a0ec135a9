"""A trained model on disk: one folder with the model file and ``card.json``.

scikit-learn models are saved with skops (loading never runs arbitrary pickled code: only
scikit-learn / NumPy / SciPy types are trusted), Keras models in the native ``.keras``
format. The card says what the model takes (:data:`emorec.datasets.INPUTS`), which classes
its outputs are, how it was trained, on which data (SHA-256) and how long it took.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emorec.errors import DataError
from emorec.jsonio import read_json, write_json

MODEL_FILES = {"sklearn": "model.skops", "keras": "model.keras"}
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
    card = {**card, "framework": framework, "file": path.name}
    write_json(directory / "card.json", card)


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
