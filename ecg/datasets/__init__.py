"""Beat datasets for training and evaluating the heartbeat classifier."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BeatSet:
    """Beats (n, 187) float32, AAMI class indices (n,), source record and R-peak sample per beat."""

    beats: np.ndarray
    labels: np.ndarray
    records: np.ndarray
    r_peaks: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> "BeatSet":
        return BeatSet(self.beats[mask], self.labels[mask], self.records[mask], self.r_peaks[mask])

    def class_counts(self, n_classes: int = 5) -> np.ndarray:
        return np.bincount(self.labels, minlength=n_classes)

    @staticmethod
    def concat(parts: list["BeatSet"]) -> "BeatSet":
        if not parts:
            return BeatSet(
                np.zeros((0, 187), np.float32), np.zeros(0, np.int64), np.zeros(0, "<U3"), np.zeros(0, np.int64)
            )
        return BeatSet(
            np.concatenate([p.beats for p in parts]),
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.records for p in parts]),
            np.concatenate([p.r_peaks for p in parts]),
        )
