"""Scoring models: classification metrics and throughput."""
