from emorec.corpora.fer2013 import ingest_fer2013
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    ingest_fer2013(
        archive=snakemake.input.archive,
        manifest_path=snakemake.output.manifest,
        rejects_path=snakemake.output.rejects,
        summary_path=snakemake.output.summary,
        max_reject_fraction=snakemake.params.ingest["max_reject_fraction"],
    )
