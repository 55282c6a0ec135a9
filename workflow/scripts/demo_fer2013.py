from emorec.demo.fer2013 import make_demo_fer2013
from emorec.runner import rule_context

with rule_context(snakemake.log[0], threads=snakemake.threads):
    demo = snakemake.params.demo
    make_demo_fer2013(path=snakemake.output.archive, seed=demo["seed"], **demo["fer2013"])
