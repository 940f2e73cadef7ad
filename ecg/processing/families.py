"""Beat families: a recording's beats of one class grouped by the shape of their QRS, as a Holter system's
templates group them, so a doctor can see each shape the classifier called N, S, V, F or Q and correct
all its beats at once.

Arrays in, arrays out: ``beat_families(windows, classes)`` takes each beat's window (one row per beat,
one channel per lead, the R-peak at ``r_index``; ``ecg.processing.context``'s morphology gives them) and
its class letter, and returns a family number per beat and, per family, its class, its number of beats,
its mean window and the index of the beat most like that mean (its example).

The grouping is greedy and in beat order (so the same beats and classes always give the same families):
a beat joins the family of its class whose mean QRS it correlates best with, at ``threshold`` or more
(both leads' QRS, each scaled to unit length, read as one); otherwise it starts a family. A class keeps
its ``max_per_class`` largest families of ``min_beats`` or more; the beats of its rarer shapes make one last
family of the class, ``rare``. Families are numbered by class (N, S, V, F, Q), then by size, largest first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ecg.constants import AAMI_CLASSES

THRESHOLD = 0.85  # a beat joins a family whose mean QRS it correlates with this well (both leads read as one)
MAX_PER_CLASS = 8  # families kept per class; the rarer shapes' beats make one more, marked rare
MIN_BEATS = 3  # a shape with fewer beats is one of the rare
MAX_GROWING = 48  # families a class grows at most; beats like none of them go to the rare family at once
QRS_BEFORE_S = 0.10  # the QRS read for shape: from this long before the R-peak ...
QRS_AFTER_S = 0.16  # ... to this long after it
CHUNK = 4096  # beats compared with the families at once
UNGROUPED = -1


@dataclass
class Family:
    number: int
    aami_class: str
    beats: int
    rare: bool  # the class's rarer shapes, gathered
    example: int  # index of the member beat most like the family's mean
    template: np.ndarray  # (window, leads) mean of the members' windows


@dataclass
class Families:
    of_beat: np.ndarray  # (n,) family number per beat (UNGROUPED for a class letter outside AAMI's five)
    families: list[Family]


def _qrs_vectors(windows: np.ndarray, qrs: slice) -> np.ndarray:
    """Each beat's QRS, per lead demeaned and scaled to unit length, the leads side by side (scaled again)."""
    part = np.asarray(windows[:, qrs, :], dtype=np.float32)
    part = part - part.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(part, axis=1, keepdims=True)
    part = np.divide(part, norm, out=np.zeros_like(part), where=norm > 1e-6)
    flat = part.transpose(0, 2, 1).reshape(len(part), -1)
    return _unit(flat)


def _unit(rows: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(rows, axis=1, keepdims=True)
    out: np.ndarray = np.divide(rows, norm, out=np.zeros_like(rows), where=norm > 1e-6)
    return out


class _Grouping:
    """One class's beats grouped greedily in order, a chunk at a time (memory of one chunk, whatever the
    recording's length): per growing family, the sums of its members' QRS vectors and of their windows."""

    def __init__(self, threshold: float, max_growing: int) -> None:
        self.threshold, self.max_growing = threshold, max_growing
        self.qrs_sums: list[np.ndarray] = []
        self.window_sums: list[np.ndarray] = []
        self.sizes: list[int] = []
        self.overflow_sum: np.ndarray | None = None  # the windows of beats like no family, once all have grown
        self.overflow = 0

    def add(self, vectors: np.ndarray, windows: np.ndarray) -> np.ndarray:
        """Family index per beat of the chunk (``max_growing`` for none)."""
        got = np.full(len(vectors), -1, np.int64)
        if self.sizes:
            sims = vectors @ _unit(np.asarray(self.qrs_sums)).T
            best = np.argmax(sims, axis=1)
            got = np.where(sims[np.arange(len(vectors)), best] >= self.threshold, best, -1)
        # a beat like no family yet starts one, in order, the family taking the later beats like it
        for i in np.flatnonzero(got < 0):
            if got[i] >= 0:
                continue
            if len(self.sizes) >= self.max_growing:
                break
            rest = np.flatnonzero(got[i:] < 0) + i
            joins = rest[vectors[rest] @ vectors[i] >= self.threshold]
            got[joins if len(joins) else np.array([i])] = len(self.sizes)
            self.qrs_sums.append(np.zeros(vectors.shape[1], np.float64))
            self.window_sums.append(np.zeros(windows.shape[1:], np.float64))
            self.sizes.append(0)
        for family in np.unique(got[got >= 0]):
            mine = got == family
            self.qrs_sums[family] += vectors[mine].sum(axis=0)
            self.window_sums[family] += windows[mine].sum(axis=0)
            self.sizes[family] += int(mine.sum())
        if np.any(got < 0):
            extra = windows[got < 0].sum(axis=0)
            self.overflow_sum = extra if self.overflow_sum is None else self.overflow_sum + extra
            self.overflow += int(np.sum(got < 0))
        return np.where(got >= 0, got, self.max_growing)


def beat_families(
    windows: np.ndarray,
    classes: np.ndarray,
    *,
    r_index: int,
    fs: float,
    channels: tuple[int, ...] | None = None,
    threshold: float = THRESHOLD,
    max_per_class: int = MAX_PER_CLASS,
    max_growing: int = MAX_GROWING,
    min_beats: int = MIN_BEATS,
) -> Families:
    """Families of ``windows`` ((n, window, channels), the R-peak at ``r_index``, ``fs`` samples a second;
    ``channels`` picks the leads' channels, all by default) within each class of ``classes`` (n letters).
    The windows are read a chunk at a time and never copied whole."""
    windows = np.asarray(windows)
    if windows.ndim == 2:
        windows = windows[:, :, None]
    picked = list(range(windows.shape[2])) if channels is None else list(channels)
    classes = np.asarray([str(c)[:1].upper() for c in classes])
    if len(classes) != len(windows):
        raise ValueError(f"{len(windows)} windows but {len(classes)} classes")
    qrs = slice(
        max(0, r_index - int(round(QRS_BEFORE_S * fs))),
        min(windows.shape[1], r_index + int(round(QRS_AFTER_S * fs)) + 1),
    )

    def chunks(members: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        for start in range(0, len(members), CHUNK):
            rows = members[start : start + CHUNK]
            part = np.asarray(windows[rows][:, :, picked], dtype=np.float32)
            yield rows, part, _qrs_vectors(part, qrs)

    of_beat = np.full(len(windows), UNGROUPED, np.int64)
    families: list[Family] = []
    for cls in AAMI_CLASSES:
        members = np.flatnonzero(classes == cls)
        if not len(members):
            continue
        grouping = _Grouping(threshold, max_growing)
        label = np.concatenate([grouping.add(vectors, part) for _, part, vectors in chunks(members)])
        sizes = np.asarray(grouping.sizes, np.int64)
        order = np.argsort(-sizes, kind="stable")  # largest first; ties by first appearance
        kept = [int(f) for f in order[:max_per_class] if sizes[f] >= max(1, min_beats)]
        number_of = {f: len(families) + k for k, f in enumerate(kept)}
        rare_number = len(families) + len(kept)
        rare_sum = grouping.overflow_sum
        for f in range(len(sizes)):
            if f not in number_of and sizes[f]:
                rare_sum = grouping.window_sums[f] if rare_sum is None else rare_sum + grouping.window_sums[f]
        numbers = np.array([number_of.get(f, rare_number) for f in range(max_growing + 1)])
        of_beat[members] = numbers[label]
        rare_size = len(members) - int(sum(sizes[f] for f in kept))
        # each family's example: its member most like its mean QRS (a second pass, a chunk at a time)
        means = [grouping.window_sums[f] / sizes[f] for f in kept]
        if rare_size:
            assert rare_sum is not None
            means.append(rare_sum / rare_size)
        mean_qrs = _qrs_vectors(np.asarray(means, np.float32), qrs)
        best_sim = np.full(len(means), -np.inf)
        example = np.zeros(len(means), np.int64)
        for rows, _, vectors in chunks(members):
            mine = of_beat[rows] - len(families)
            sims = np.einsum("ij,ij->i", vectors, mean_qrs[mine])
            for k in np.unique(mine):
                at = np.flatnonzero(mine == k)
                top = at[np.argmax(sims[at])]
                if sims[top] > best_sim[k]:
                    best_sim[k], example[k] = sims[top], rows[top]
        for k, mean in enumerate(means):
            rare = k == len(kept)
            size = rare_size if rare else int(sizes[kept[k]])
            families.append(Family(len(families), cls, size, rare, int(example[k]), mean.astype(np.float32)))
    return Families(of_beat=of_beat, families=families)
