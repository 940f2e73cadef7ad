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

**No S beat inside atrial fibrillation.** AAMI labels every beat of atrial fibrillation N, however
early it comes, and the classifier calls S on AF's short intervals (MIT-BIH 203: 530 false S beats,
none true). Where the product's AF analysis (``ecg.rhythm.af``: irregular R-R intervals, over at
least 20 s) finds an episode and the beat's P-wave repetition (the median over 31 beats of how well
each P-wave stretch matches its neighbours': about 0.9 in sinus rhythm, 0.2-0.3 in AF) is below
``AF_P_REPETITION_MAX``, an S call is N. The strict P-wave bound keeps frequent atrial ectopy, whose
irregular intervals also read as AF but whose P waves still repeat (0.6-0.8: svdb 821, 854, 868),
out of the rule.

**No S beat inside atrial flutter.** Flutter's beats are N as well, and its regular 2:1 conduction
is neither irregular nor different in shape: svdb 867 (flutter at 270-300 /min, conducted at
0.42 s for eleven minutes) drew 1,300 false S calls. Where the atrial activity left after
subtracting the average beat (``ecg.rhythm.flutter.atrial_organisation``) is organised (a share of
``FLUTTER_ORGANISATION_MIN`` or more of its 2-12 Hz power at one frequency and its harmonic) at
flutter's rate (``FLUTTER_HZ``), as a median over ``FLUTTER_BEATS`` beats, an S call is N. In sinus
rhythm and in SVT the organisation stays under 0.5 (svdb 865's SVT 0.26-0.39).

Both rules need the analysed lead's waveform measures (``ecg.rhythm.analysis.waveform_measures``);
without them they are skipped.

Measured on the record-wise CV's out-of-fold probabilities (``bench.heartbeat_protocols``, its
``cv_blend`` result keeps the figures without the rule beside those with it; bench/README.md).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

from ecg.processing.context import MAX_RR_S, baseline_rr
from ecg.rhythm import af

RUN_TOLERANCE = 0.10
RUN_MAX_OF_BASELINE = 0.7
RUN_MEDIAN_BEATS = 8
RUN_BRIDGE_BEATS = 2  # beats of another class a run goes on through
AF_P_REPETITION_MAX = 0.35  # below it P waves do not repeat: fibrillation, not atrial ectopy
FLUTTER_ORGANISATION_MIN = 0.5
FLUTTER_HZ = (3.5, 7.0)  # atrial rate 210-420 /min
FLUTTER_BEATS = 61  # beats over which organisation and frequency are taken (median): sustained flutter


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


def _running_median(x: np.ndarray, beats: int) -> np.ndarray:
    """The median over ``beats`` beats centred on each beat (edges repeated), in O(n) memory: a
    24-hour recording has some 100,000 beats."""
    out: np.ndarray = median_filter(np.asarray(x, np.float64), size=beats, mode="nearest")
    return out


def atrial_rhythm_rules(
    r_peaks: np.ndarray, fs: float, classes: np.ndarray, measures: dict[str, np.ndarray], *, labels: list[str]
) -> np.ndarray:
    """``classes`` (indices into ``labels``) with S calls made N inside atrial fibrillation whose P waves
    do not repeat and inside sustained atrial flutter, from the analysed lead's waveform ``measures``."""
    upper = [str(label).upper() for label in labels]
    out = np.array(classes, copy=True)
    if "S" not in upper or "N" not in upper or len(out) == 0:
        return out
    s, n = upper.index("S"), upper.index("N")
    veto = np.zeros(len(out), bool)
    p_repetition = measures.get("p_repetition")
    if p_repetition is not None:
        _, covered = af.af_events(np.asarray(r_peaks), np.asarray(upper)[out], fs, p_repetition=p_repetition)
        veto |= covered & (np.asarray(p_repetition) < AF_P_REPETITION_MAX)
    frequency, organisation = measures.get("atrial_frequency"), measures.get("atrial_organisation")
    if frequency is not None and organisation is not None:
        hz = _running_median(frequency, FLUTTER_BEATS)
        veto |= (
            (_running_median(organisation, FLUTTER_BEATS) >= FLUTTER_ORGANISATION_MIN)
            & (hz >= FLUTTER_HZ[0])
            & (hz <= FLUTTER_HZ[1])
        )
    out[veto & (out == s)] = n
    return out


def record_classes(
    scores: np.ndarray,
    labels: list[str],
    r_peaks: np.ndarray,
    fs: float,
    *,
    measures: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Each beat's class label (``labels``' spelling): the most probable class, then the run rule,
    then (given the analysed lead's waveform ``measures``) no S beat inside atrial fibrillation or flutter."""
    idx = np.asarray(scores).argmax(axis=1)
    upper = [str(label).upper() for label in labels]
    if "S" in upper and "N" in upper:
        idx = continue_supraventricular_runs(r_peaks, fs, idx, s=upper.index("S"), n=upper.index("N"))
        if measures is not None:
            idx = atrial_rhythm_rules(r_peaks, fs, idx, measures, labels=labels)
    out: np.ndarray = np.asarray(labels)[idx]
    return out
