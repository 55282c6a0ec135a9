from emorec.corpora.speech import ingest_speech_corpus
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    corpus, ingest = snakemake.params.corpus, snakemake.params.ingest
    ingest_speech_corpus(
        corpus=snakemake.wildcards.speech_corpus,
        archive=snakemake.input.archive,
        manifest_path=snakemake.output.manifest,
        rejects_path=snakemake.output.rejects,
        summary_path=snakemake.output.summary,
        val_speakers=[str(s) for s in corpus["val_speakers"]],
        test_speakers=[str(s) for s in corpus["test_speakers"]],
        threads=snakemake.threads,
        spec=corpus,
        **ingest,
    )
