"""Keras architectures and inference on beats."""
