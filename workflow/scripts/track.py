from pathlib import Path

from emorec.runner import rule_context
from emorec.stages.track import TrackedModel, track_pipeline

with rule_context(snakemake.log[0], threads=snakemake.threads):
    track_pipeline(
        params=snakemake.config,
        metrics_path=snakemake.input.metrics,
        models=[
            TrackedModel(
                modality=m["modality"],
                name=m["name"],
                features=m["features"],
                model_dir=str(Path(model).parent),
                report_dir=str(Path(predictions).parent),
            )
            for m, model, predictions in zip(
                snakemake.params.models, snakemake.input.models, snakemake.input.evaluations
            )
        ],
        fusion_dir=Path(snakemake.input.fusion).parent,
        summaries=snakemake.input.summaries,
        demo=snakemake.params.demo,
        uri=snakemake.params.tracking["uri"],
        experiment=snakemake.params.tracking["experiment"],
        register=snakemake.params.tracking["register_models"],
        out_path=snakemake.output.run,
    )
