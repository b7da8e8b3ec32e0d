"""Datasets, metrics, evaluation and benchmark runners."""
