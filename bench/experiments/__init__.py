"""Experiments that never shipped, kept with their results for the record."""
