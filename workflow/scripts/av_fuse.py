from pathlib import Path

from emorec.runner import rule_context
from emorec.stages.av import run_av_fusion

with rule_context(snakemake.log[0], threads=snakemake.threads):
    run_av_fusion(
        manifest=snakemake.input.manifest,
        faces=snakemake.input.faces,
        faces_summary=snakemake.input.faces_summary,
        av_audio=snakemake.input.av_audio,
        audio_features=snakemake.input.audio_features,
        audio_model=Path(snakemake.input.audio_model).parent,
        visual_model=Path(snakemake.input.visual_model).parent,
        out_dir=Path(snakemake.output.metrics_json).parent,
        label_map=snakemake.params.fusion["label_map"],
        pooling=snakemake.params.fusion["av_pooling"],
    )
