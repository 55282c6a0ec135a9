"""The speaker-sex table: the audio feature table with each clip's speaker sex as its label.

Sex is a manifest attribute (RAVDESS: the actor number's parity; CREMA-D: its demographics
file; TESS: female; SAVEE: male), so it is joined onto the features by ``sample_id``; clips of
speakers of unknown sex are left out. The emotion goes to ``original_label``. The audio models
then train and evaluate on it unchanged, by the same speaker splits, so a test speaker's sex
is predicted by a model that never heard them.
"""

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from emorec.datasets import read_features
from emorec.errors import DataError
from emorec.tables import write_table

log = logging.getLogger(__name__)

#: The classes of a speaker-sex model, in their output order.
SEXES = ("female", "male")


def sex_feature_table(features: pa.Table, manifests: Sequence[pa.Table]) -> pa.Table:
    """``features`` with ``label`` = speaker sex and ``label_id`` its index in :data:`SEXES`."""
    sex_of: dict[str, str] = {}
    for manifest in manifests:
        sex_of.update(zip(manifest.column("sample_id").to_pylist(), manifest.column("sex").to_pylist()))
    missing = [s for s in features.column("sample_id").to_pylist() if s not in sex_of]
    if missing:
        raise DataError(f"{len(missing)} feature rows have no manifest row, e.g. {missing[0]}")
    sexes = np.array([sex_of[s] for s in features.column("sample_id").to_pylist()], dtype=object)
    known = np.isin(sexes, SEXES)
    if not known.any():
        raise DataError("no clip has a known speaker sex; the speaker-sex model has nothing to learn")
    log.info(
        "speaker sex: %d clips (%s); %d of unknown sex left out",
        int(known.sum()),
        ", ".join(f"{s} {int((sexes == s).sum())}" for s in SEXES),
        int((~known).sum()),
    )
    rows = features.filter(pa.array(known))
    label = pa.array(sexes[known].tolist(), pa.string())
    table = rows.set_column(
        rows.schema.get_field_index("original_label"), "original_label", rows.column("label")
    )
    table = table.set_column(table.schema.get_field_index("label"), "label", label)
    ids = pc.index_in(label, pa.array(SEXES)).cast(pa.int8())
    return table.set_column(table.schema.get_field_index("label_id"), "label_id", ids)


def write_sex_features(
    *, features_path: str | Path, manifest_paths: Sequence[str | Path], output_path: str | Path
) -> int:
    """Write :func:`sex_feature_table` of the audio feature table; returns its row count."""
    features = read_features(features_path)
    table = sex_feature_table(features, [read_features(p) for p in manifest_paths])
    write_table(table, output_path, features.schema)
    return table.num_rows
