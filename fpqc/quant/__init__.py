"""Quantization data and learning that passes fold: GALT's learned smoothing (torch)."""
