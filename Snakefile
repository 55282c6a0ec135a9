# Multimodal emotion recognition: raw corpora -> manifests -> feature tables -> models ->
# evaluation, fusion and reports -> MLflow.
# Run: snakemake -j8   (params.yaml is the config; override with --configfile)
import os

from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "params.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/cv.smk"
include: "workflow/rules/video.smk"


rule all:
    input:
        f"{REPORTS}/results.md",
        FUSION_FILES["f1_png"],
        f"{REPORTS}/mlflow_run.json",
        [AV_FILES["f1_png"]] if USES_VIDEO else [],
    default_target: True


# Targets of the DVC stages in dvc.yaml (one stage per step of the flow).
rule all_demo:
    input:
        [DEMO_ARCHIVES[c] for c in CORPORA if is_demo_archive(c)],
        [a for a in video_archives() if is_demo_path(a, "ravdess_video")],
    localrule: True


rule all_data:
    input:
        [ingest_outputs(corpus)["rejects"] for corpus in CORPORA],
        FEATURE_TABLES["audio"],
        FEATURE_TABLES["audio_sex"],
        FEATURE_TABLES["visual"],
        list(VIDEO_TABLES.values()) if USES_VIDEO else [],
    localrule: True


rule all_models:
    input:
        [model_files(m, n)["card"] for m, n in trained_models()],
    localrule: True


rule all_evaluations:
    input:
        [evaluation_files(m, n)["metrics_json"] for m, n in trained_models()],
        [cv_files(n)["metrics"] for n in cv_models()],
    localrule: True
