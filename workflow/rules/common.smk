# Config validation and helpers shared by every rule file.
import os
from pathlib import Path

from emorec.archives import MISSING_HINT
from emorec.errors import DataError
from emorec.params import validate_params
from emorec.runner import set_pipeline_env

set_pipeline_env()
validate_params(config, source="config (params.yaml + any --configfile / --config)")

#: Where the demo rules write their corpora; configured archives elsewhere must exist.
DEMO_ARCHIVES = {
    "ravdess": "data/raw/demo/ravdess_demo.zip",
    "fer2013": "data/raw/demo/fer2013_demo.csv",
}
SPEECH_CORPORA = ["ravdess"]


def archive(corpus):
    """The configured archive of ``corpus``; fails at once, naming it, when it is missing."""
    path = config["corpora"][corpus]["archive"]
    if os.path.normpath(path) != os.path.normpath(DEMO_ARCHIVES[corpus]) and not os.path.exists(path):
        raise DataError(f"corpora.{corpus}.archive: {path} does not exist. {MISSING_HINT}")
    return path


for _corpus in DEMO_ARCHIVES:
    archive(_corpus)


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
