from pathlib import Path

from emorec.runner import rule_context
from emorec.stages.fuse import run_fusion

with rule_context(snakemake.log[0], threads=snakemake.threads):
    run_fusion(
        audio_predictions=snakemake.input.audio,
        visual_predictions=snakemake.input.visual,
        out_dir=Path(snakemake.output.metrics_json).parent,
        label_map=snakemake.params.fusion["label_map"],
        seed=snakemake.params.fusion["seed"],
    )
