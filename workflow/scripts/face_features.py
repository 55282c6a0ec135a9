from emorec.features.faces import face_features
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    face_features(
        manifest_paths=list(snakemake.input.manifests),
        output_path=snakemake.output.table,
        equalize_histogram=snakemake.params.faces["equalize"],
    )
