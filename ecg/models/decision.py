"""From the record-level classifier's probabilities to each beat's class.

Each beat takes its most probable class, and then one rhythm rule: **a supraventricular run goes
on at its own rate.** A beat the classifier calls N right after an S beat is S when its RR interval
matches the run's (within ``RUN_TOLERANCE`` of the previous interval and of the run's median over
its last beats) and is clearly faster than the record's underlying rhythm
(``context.baseline_rr``, at most ``RUN_MAX_OF_BASELINE`` of it). The classifier finds a run's
first beats (premature, P wave changed) but, a few beats in, the run is the local rhythm and its
beats look like the patient's own: svdb 865's 667-beat SVT was found for its first 14 beats only.
A run ends where the rate changes, as sinus rhythm resumes after a pause; an isolated S beat is
followed by a longer (compensatory) interval and is not extended; atrial fibrillation's irregular
intervals rarely match one another twice in a row.

**A run goes on through one or two beats of another class** (V, fusion, unclassifiable) when the
next beat called N keeps the run's cycle: the time from the run's last S beat to it is a whole
number of the run's intervals (``RUN_TOLERANCE``). Ventricular beats inside an SVT do not reset it:
svdb 865's second SVT (seven minutes at 0.42 s) was lost at its first V beat and its last 700 beats
were N.

Measured on the record-wise CV's out-of-fold probabilities (``bench.heartbeat_protocols``, its
``cv_blend`` result keeps the figures without the rule beside those with it; bench/README.md).
"""

from __future__ import annotations

import numpy as np

from ecg.processing.context import MAX_RR_S, baseline_rr

RUN_TOLERANCE = 0.10
RUN_MAX_OF_BASELINE = 0.7
RUN_MEDIAN_BEATS = 8
RUN_BRIDGE_BEATS = 2  # beats of another class a run goes on through


def continue_supraventricular_runs(
    r_peaks: np.ndarray, fs: float, classes: np.ndarray, *, s: int = 1, n: int = 0
) -> np.ndarray:
    """``classes`` (class indices per beat, in time order) with N beats that continue an S run made S."""
    out = np.array(classes, copy=True)
    if len(out) < 3 or not (out == s).any():
        return out
    peaks = np.asarray(r_peaks, dtype=np.float64)
    rr = np.clip(np.diff(peaks) / fs, 0.05, MAX_RR_S)
    base = baseline_rr(peaks, fs)
    run: list[float] = []  # the run's intervals so far
    last = 0  # the run's last S beat
    for j in range(1, len(out)):
        r = float(rr[j - 1])
        if out[j - 1] == s:
            run.append(r)
            last = j - 1
        elif out[j - 1] != n and run and j - 1 - last <= RUN_BRIDGE_BEATS:
            # inside another class's beats: the run waits for the next beat called N
            if out[j] != n:
                if out[j] == s or j - last > RUN_BRIDGE_BEATS:
                    run = []
                continue
            cycle = float(np.median(run[-RUN_MEDIAN_BEATS:]))
            span = (peaks[j] - peaks[last]) / fs
            if cycle <= RUN_MAX_OF_BASELINE * base[j] and abs(span / ((j - last) * cycle) - 1.0) <= RUN_TOLERANCE:
                out[j] = s
            else:
                run = []
            continue
        else:
            run = []
        if (
            out[j] == n
            and run
            and r <= RUN_MAX_OF_BASELINE * base[j]
            and abs(r / run[-1] - 1.0) <= RUN_TOLERANCE
            and abs(r / float(np.median(run[-RUN_MEDIAN_BEATS:])) - 1.0) <= RUN_TOLERANCE
        ):
            out[j] = s
    return out


def record_classes(scores: np.ndarray, labels: list[str], r_peaks: np.ndarray, fs: float) -> np.ndarray:
    """Each beat's class label (``labels``' spelling): the most probable class, then the run rule."""
    idx = np.asarray(scores).argmax(axis=1)
    upper = [str(label).upper() for label in labels]
    if "S" in upper and "N" in upper:
        idx = continue_supraventricular_runs(r_peaks, fs, idx, s=upper.index("S"), n=upper.index("N"))
    out: np.ndarray = np.asarray(labels)[idx]
    return out
