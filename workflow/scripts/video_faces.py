from emorec.features.video_faces import VideoFaceParams, extract_video_faces
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    extract_video_faces(
        manifest_path=snakemake.input.manifest,
        output_path=snakemake.output.table,
        summary_path=snakemake.output.summary,
        params=VideoFaceParams(**snakemake.params.video, equalize=snakemake.params.equalize),
        max_compression_ratio=snakemake.params.max_compression_ratio,
    )
