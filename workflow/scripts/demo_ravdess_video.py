from emorec.demo.ravdess_video import make_demo_ravdess_video
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    demo = snakemake.params.demo
    make_demo_ravdess_video(
        speech_archive=snakemake.input.speech,
        path=snakemake.output.archive,
        actors=demo["ravdess_video"]["actors"],
        seed=demo["seed"],
    )
