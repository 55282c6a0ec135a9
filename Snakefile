# Multimodal emotion recognition: raw corpora -> manifests -> feature tables.
# Run: snakemake -j8   (params.yaml is the config; override with --configfile)
import os

from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "params.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/features.smk"


rule all:
    input:
        [ingest_outputs(corpus)["manifest"] for corpus in [*SPEECH_CORPORA, "fer2013"]],
        [f"data/features/{corpus}/audio.parquet" for corpus in SPEECH_CORPORA],
        "data/features/fer2013/faces.parquet",
    default_target: True
