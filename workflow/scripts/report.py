from emorec.runner import rule_context
from emorec.stages.report import write_report

with rule_context(snakemake.log[0], threads=snakemake.threads):
    write_report(
        snakemake.input.metrics, metrics_path=snakemake.output.metrics, results_path=snakemake.output.results
    )
