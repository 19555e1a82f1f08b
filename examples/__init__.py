"""Runnable examples: the rank-inversion ladder (``python -m examples.ladder``) and cluster recipes."""
