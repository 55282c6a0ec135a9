"""End-to-end MLflow models: raw file bytes in, the same answer as ``emorec predict`` out.

:class:`EmorecModel` is an ``mlflow.pyfunc.PythonModel`` whose one artifact is a predictor
bundle (:meth:`emorec.serving.predictor.Predictor.save_bundle`). It takes a DataFrame with a
binary ``content`` column (over REST: base64 in JSON, which MLflow's scoring server decodes
by the signature) and an optional ``name`` column, and returns one answer per row. The
feature code is this package's, imported, never copied: serve with ``--env-manager local``
from an environment where ``emorec`` is installed (``pip install -e .``).
"""

import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from emorec.errors import EmorecError
from emorec.serving.predictor import Predictor

#: What the served models import, pinned to the versions that logged them.
REQUIREMENTS = (
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "skops",
    "soundfile",
    "soxr",
    "opensmile",
    "av",
    "opencv-python-headless",
    "keras",
    "tensorflow-cpu",
)
#: The alias set on the end-to-end model each pipeline version recommends.
CHAMPION = "champion"


class EmorecModel(PythonModel):
    """A predictor bundle served as a pyfunc model."""

    def load_context(self, context: Any) -> None:
        self.predictor = Predictor.from_bundle(context.artifacts["bundle"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """One answer per row of ``model_input``: the predictor's, or ``{"error": ...}``."""
        names = model_input["name"] if "name" in model_input else [None] * len(model_input)
        answers = []
        for content, name in zip(model_input["content"], names):
            try:
                answer = self.predictor.predict(bytes(content))
            except EmorecError as exc:
                answer = {"error": str(exc)}
            answers.append({"input": name, **answer} if name else answer)
        return answers


def signature() -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("binary", "content"), ColSpec("string", "name", required=False)])
    )


def log_end_to_end(predictor: Predictor, *, name: str, register: bool) -> str:
    """Log ``predictor`` as a pyfunc model of the active run under ``name``; registered as
    ``name`` with the :data:`CHAMPION` alias when ``register``. Returns its URI."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle = predictor.save_bundle(Path(tmp) / "bundle")
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=EmorecModel(),
            artifacts={"bundle": str(bundle)},
            signature=signature(),
            pip_requirements=[f"{p}=={version(p)}" for p in REQUIREMENTS],
        )
    if not register:
        return info.model_uri
    registered = mlflow.register_model(info.model_uri, name)
    mlflow.MlflowClient().set_registered_model_alias(name, CHAMPION, registered.version)
    return f"models:/{name}/{registered.version}"


def load_registered(uri: str) -> Predictor:
    """The predictor inside an end-to-end model (``models:/emorec-audio@champion``, a run URI
    or a local path), with the URI and its resolved version as every model's source."""
    model = mlflow.pyfunc.load_model(uri)
    predictor = model.unwrap_python_model().predictor
    source = uri
    if uri.startswith("models:/") and "@" in uri:
        registered, alias = uri.removeprefix("models:/").split("@", 1)
        resolved = mlflow.MlflowClient().get_model_version_by_alias(registered, alias)
        source = f"{uri} (version {resolved.version})"
    predictor.sources = {role: source for role in predictor.models}
    return predictor
