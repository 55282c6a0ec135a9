"""Synthetic demo corpora in the exact formats of the real ones, so the pipeline runs offline."""
