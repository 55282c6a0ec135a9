from emorec.demo.ravdess import make_demo_ravdess
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    demo = snakemake.params.demo
    make_demo_ravdess(path=snakemake.output.archive, seed=demo["seed"], **demo["ravdess"])
