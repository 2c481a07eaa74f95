"""Canonicalization patterns, one module per dialect, as in ``xdsl.transforms.canonicalization_patterns``."""
