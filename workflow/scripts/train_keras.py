from pathlib import Path

from emorec.models.store import timings_path
from emorec.runner import rule_context
from emorec.stages.train import train_keras

model_dir = Path(snakemake.output.model).parent
with rule_context(snakemake.log[0], threads=snakemake.threads):
    train_keras(
        features=snakemake.input.features,
        model_dir=model_dir,
        net=model_dir.name,
        modality=model_dir.parent.name,
        hp=snakemake.params.hp,
        seed=snakemake.params.seed,
        threads=snakemake.threads,
        input_options=snakemake.params.input_options,
        timings=timings_path(model_dir),
    )
