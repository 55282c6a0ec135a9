from emorec.corpora.image_folders import ingest_image_folders
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    ingest_image_folders(
        corpus=snakemake.wildcards.face_set,
        spec=snakemake.params.corpus,
        manifest_path=snakemake.output.manifest,
        rejects_path=snakemake.output.rejects,
        summary_path=snakemake.output.summary,
        video=snakemake.params.video,
        **snakemake.params.ingest,
    )
