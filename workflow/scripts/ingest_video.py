from emorec.corpora.ravdess_video import ingest_ravdess_video
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    split = snakemake.params.split
    ingest_ravdess_video(
        archives=list(snakemake.input.archives),
        manifest_path=snakemake.output.manifest,
        rejects_path=snakemake.output.rejects,
        summary_path=snakemake.output.summary,
        val_actors=split["val_actors"],
        test_actors=split["test_actors"],
        threads=snakemake.threads,
        **snakemake.params.ingest,
    )
