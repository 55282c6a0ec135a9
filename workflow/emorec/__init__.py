"""emorec: reproducible multimodal emotion recognition.

All pipeline logic lives here as plain, typed functions; Snakemake rule scripts are thin
wrappers that call one function each. Nothing in this package imports Snakemake.
"""

__version__ = "0.1.0"
