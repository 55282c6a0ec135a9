from emorec.runner import rule_context
from emorec.stages.cv import cv_summary

with rule_context(snakemake.log[0], threads=snakemake.threads):
    cv_summary(
        fold_files=snakemake.input.folds,
        metrics_path=snakemake.output.metrics,
        table_path=snakemake.output.folds,
        prefix=f"audio.{snakemake.wildcards.sklearn_model}",
    )
