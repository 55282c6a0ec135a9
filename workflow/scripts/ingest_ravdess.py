from emorec.corpora.ravdess import ingest_ravdess
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    corpus, ingest = snakemake.params.corpus, snakemake.params.ingest
    ingest_ravdess(
        archive=snakemake.input.archive,
        manifest_path=snakemake.output.manifest,
        rejects_path=snakemake.output.rejects,
        summary_path=snakemake.output.summary,
        val_actors=corpus["val_actors"],
        test_actors=corpus["test_actors"],
        threads=snakemake.threads,
        **ingest,
    )
