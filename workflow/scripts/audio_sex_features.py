from emorec.features.speaker_sex import write_sex_features
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    write_sex_features(
        features_path=snakemake.input.features,
        manifest_paths=list(snakemake.input.manifests),
        output_path=snakemake.output.table,
    )
