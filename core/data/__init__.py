"""Datasets: ingest, column mapping, canonical rows, splits, the quality report and its checks, saved
versions, the use-case gallery and the bundled samples.
"""
