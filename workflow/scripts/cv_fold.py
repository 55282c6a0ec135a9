from emorec.runner import rule_context
from emorec.stages.cv import cv_fold

with rule_context(snakemake.log[0], threads=snakemake.threads):
    cv_fold(
        features=snakemake.input.features,
        out_path=snakemake.output.fold,
        corpus=snakemake.params.cv["corpus"],
        fold=int(snakemake.wildcards.fold),
        folds=snakemake.params.cv["folds"],
        kind=snakemake.wildcards.sklearn_model,
        grid=snakemake.params.grid,
        inner_folds=snakemake.params.inner_folds,
        seed=snakemake.params.seed,
        threads=snakemake.threads,
        input_options=snakemake.params.input_options,
        inductive=snakemake.params.inductive,
    )
