from pathlib import Path

from emorec.runner import rule_context
from emorec.stages.evaluate import evaluate_model

with rule_context(snakemake.log[0], threads=snakemake.threads):
    evaluate_model(
        model_dir=Path(snakemake.input.model).parent,
        features=snakemake.input.features,
        out_dir=Path(snakemake.output.metrics_json).parent,
        prefix=f"{snakemake.wildcards.modality}.{snakemake.wildcards.model}",
        shared_classes=snakemake.params.shared_classes,
    )
