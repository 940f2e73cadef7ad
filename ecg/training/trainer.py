"""What every training run shares: reproducible seeds, bounded threads, the model input, progress lines."""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np

from ecg.constants import BEAT_LENGTH

Log = Callable[[str], None]


class TrainingError(Exception):
    """A run that cannot start or go on; the message says what to change."""


def set_seed(seed: int) -> None:
    keras.utils.set_random_seed(seed)


def configure_threads(threads: int) -> None:
    """Bound TensorFlow's CPU use (the machine is shared)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised in this process
        pass


def model_input(beats: np.ndarray) -> np.ndarray:
    """Beats (n, 187) as the models take them: (n, 187, 1) float32."""
    return beats.reshape(-1, BEAT_LENGTH, 1).astype(np.float32)
