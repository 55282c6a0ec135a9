from emorec.corpora.fer2013_images import ingest_fer2013_archive
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    corpus, ingest = snakemake.params.corpus, snakemake.params.ingest
    ingest_fer2013_archive(
        archive=snakemake.input.archive,
        manifest_path=snakemake.output.manifest,
        rejects_path=snakemake.output.rejects,
        summary_path=snakemake.output.summary,
        val_fraction=corpus["val_fraction"],
        split_seed=corpus["split_seed"],
        **ingest,
    )
