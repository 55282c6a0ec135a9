from emorec.features.audio import AudioFeatureParams
from emorec.features.video_audio import extract_av_audio
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    extract_av_audio(
        manifest_path=snakemake.input.manifest,
        output_path=snakemake.output.table,
        params=AudioFeatureParams(**snakemake.params.audio),
        max_compression_ratio=snakemake.params.max_compression_ratio,
    )
