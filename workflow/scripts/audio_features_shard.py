from emorec.features.audio import AudioFeatureParams, extract_audio_shard
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    extract_audio_shard(
        manifest_path=snakemake.input.manifest,
        archive=snakemake.input.archive,
        output_path=snakemake.output.shard,
        shard=int(snakemake.wildcards.shard),
        params=AudioFeatureParams(**snakemake.params.audio),
        max_compression_ratio=snakemake.params.max_compression_ratio,
    )
