from emorec.runner import rule_context
from emorec.tables import audio_features_schema, merge_tables

with rule_context(snakemake.log[0], threads=snakemake.threads):
    audio = snakemake.params.audio
    merge_tables(
        list(snakemake.input.tables),
        snakemake.output.table,
        audio_features_schema(n_mfcc=audio["n_mfcc"], n_mels=audio["n_mels"], frames=audio["frames"]),
    )
