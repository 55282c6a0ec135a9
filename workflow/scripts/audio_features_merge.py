from emorec.features.audio import AudioFeatureParams, merge_audio_shards
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    merge_audio_shards(
        shard_paths=list(snakemake.input.tables),
        output_path=snakemake.output.table,
        params=AudioFeatureParams(**snakemake.params.audio),
    )
