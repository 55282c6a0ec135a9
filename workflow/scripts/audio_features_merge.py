from emorec.features.audio import AudioFeatureParams
from emorec.runner import rule_context
from emorec.tables import merge_tables

with rule_context(snakemake.log[0], threads=snakemake.threads):
    merge_tables(
        list(snakemake.input.tables),
        snakemake.output.table,
        AudioFeatureParams(**snakemake.params.audio).schema,
    )
