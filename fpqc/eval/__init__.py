"""Evaluation helpers (classifiers and scores used to judge generated images)."""

from .digits_classifier import DigitsCNN, digits_images, digits_split, load_digits_classifier

__all__ = ["DigitsCNN", "digits_images", "digits_split", "load_digits_classifier"]
