from pathlib import Path

from emorec.models.store import timings_path
from emorec.runner import rule_context
from emorec.stages.train import train_sklearn_audio

with rule_context(snakemake.log[0], threads=snakemake.threads):
    train_sklearn_audio(
        features=snakemake.input.features,
        model_dir=Path(snakemake.output.model).parent,
        kind=snakemake.wildcards.sklearn_model,
        grid=snakemake.params.grid,
        folds=snakemake.params.folds,
        seed=snakemake.params.seed,
        threads=snakemake.threads,
        input_options=snakemake.params.input_options,
        timings=timings_path(Path(snakemake.output.model).parent),
    )
