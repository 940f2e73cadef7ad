"""The MI screen: which lead it may read, which beats it scores, and what it may say.

The MI model learnt MI from lead II beats of 10-s resting excerpts (PTB, PTB-XL). It speaks only
where that holds:

* **lead**: lead II, or II derived from I and III (Einthoven: II = I + III) when II is absent;
  MIT-BIH's modified lead II (MLII) only if ``MLII_QUALIFIES`` (measured, bench/mi_applicability.py).
  Any other lead, and leads without a standard name (``ECG1``, ``ch1``), are ``not_applicable``.
* **length**: a resting ECG, not an ambulatory or monitoring one: a recording longer than ``MAX_RESTING_S``
  is ``not_applicable`` whatever its leads (the MI model learnt from excerpts of 10 s to about 2 minutes; over
  hours, posture, activity and heart rate move the ST segment it reads, and a Holter lead labelled II is not
  the resting 12-lead's).
* **beats**: dominant, normally conducted, clean beats only. A beat is ectopic when it is premature
  (RR before it < ``PREMATURE`` x the record's median RR), unlike the record's dominant beat
  (correlation < ``MIN_TEMPLATE_CORRELATION`` with the median of the beats that resemble the
  record's median beat, P wave to T wave, baseline removed) or paced/unclassifiable (Q). Ectopic
  beats and the beat just before each (its Kaggle-format window runs into the early beat) are not
  scored, nor beats of unusual amplitude (peak-to-peak outside ``AMPLITUDE_RANGE`` x the median) or
  unlike the template of the beats left (noise). The heartbeat model's N/S/V/F call is not used:
  it calls the beats of many resting MI ECGs V (bench/mi_applicability.py measures both rules).
* **aggregate**: the median MI probability of the scored beats (``AGGREGATION``, chosen by
  measurement); fewer than ``MIN_BEATS`` scored beats is ``not_assessable``.

Arrays in, a plain dict out (:meth:`MiScreen.as_dict` is the ``summary.mi_screen`` contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ecg.io.readers import lead_display, plain_lead

Status = Literal["screened", "not_applicable", "not_assessable"]

MLII_QUALIFIES = False
MIN_P_N = 0.9
MIN_TEMPLATE_CORRELATION = 0.85
AMPLITUDE_RANGE = (0.5, 2.0)
PREMATURE = 0.8  # an RR interval this much shorter than the record's median marks an early beat
BEAT_RULE = "rhythm_morphology"
MIN_BEATS = 5
MAX_RESTING_S = 300.0  # past every resting excerpt the model learnt from (PTB's run to about 2 minutes)
AGGREGATION = "median"
WINDOW_S = (0.25, 0.45)  # the beat window of the quality checks, before and after the R-peak
WINDOW_FS = 250.0


@dataclass(frozen=True)
class LeadChoice:
    """The lead the MI screen reads: a lead of the record, II derived from I and III, or none."""

    lead: str | None  # the name reported ("II", the record's own label, or "II (I + III)")
    source: tuple[str, ...]  # the record's lead labels it is made of: one, or (I, III)
    reason: str

    @property
    def applicable(self) -> bool:
        return self.lead is not None

    @property
    def derived(self) -> bool:
        return len(self.source) == 2


def choose_lead(
    names: Sequence[str], *, accept_mlii: bool = MLII_QUALIFIES, duration_s: float | None = None
) -> LeadChoice:
    """The lead of ``names`` (a record's lead labels) the MI model is valid for, with the reason; none for a
    recording of ``duration_s`` seconds longer than ``MAX_RESTING_S`` (the lead's reason first where none
    qualifies).

    ``accept_mlii`` exists for the measurement that decides ``MLII_QUALIFIES``."""
    choice = _lead_chosen(names, accept_mlii=accept_mlii)
    if choice.applicable and duration_s is not None and duration_s > MAX_RESTING_S:
        return LeadChoice(
            None,
            (),
            f"the MI model is validated on resting ECGs of 10 s to about 2 minutes; this recording lasts "
            f"{_duration_said(duration_s)}, an ambulatory or monitoring recording, whose ST segment moves with "
            f"posture, activity and heart rate",
        )
    return choice


def _lead_chosen(names: Sequence[str], *, accept_mlii: bool) -> LeadChoice:
    by_plain: dict[str, str] = {}
    for name in names:
        by_plain.setdefault(plain_lead(name), name)
    if "ii" in by_plain:
        label = by_plain["ii"]
        return LeadChoice(
            label, (label,), f"lead {lead_display(label)}: the lead the MI model was trained and validated on"
        )
    if "mlii" in by_plain and accept_mlii:
        label = by_plain["mlii"]
        return LeadChoice(
            label, (label,), f"lead {lead_display(label)} (modified lead II), validated for the MI screen"
        )
    if "i" in by_plain and "iii" in by_plain:
        first, third = by_plain["i"], by_plain["iii"]
        return LeadChoice(
            "II (I + III)",
            (first, third),
            f"lead II derived from {lead_display(first)} and {lead_display(third)} (Einthoven: II = I + III)",
        )
    shown = ", ".join(lead_display(n) for n in names) if names else "none"
    if "mlii" in by_plain:
        reason = (
            f"the MI model is validated on lead II of resting 12-lead ECGs; modified lead II of an "
            f"ambulatory recording does not qualify (leads: {shown})"
        )
    else:
        reason = (
            f"the MI model is validated on lead II only; this recording has no lead II or I and III (leads: {shown})"
        )
    return LeadChoice(None, (), reason)


def _duration_said(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def lead_values(leads: dict[str, np.ndarray], choice: LeadChoice) -> np.ndarray:
    """The samples of the chosen lead, summing I and III when II is derived."""
    if not choice.applicable:
        raise ValueError("no lead qualifies for the MI screen")
    if choice.derived:
        first, third = (np.asarray(leads[name], dtype=np.float64) for name in choice.source)
        n = min(len(first), len(third))
        return first[:n] + third[:n]
    return np.asarray(leads[choice.source[0]], dtype=np.float64)


def beat_windows(values: np.ndarray, fs: float, r_peaks: np.ndarray) -> np.ndarray:
    """Each beat of ``values`` from 0.25 s before to 0.45 s after its R-peak (P wave to T wave), at
    most ``WINDOW_FS`` Hz (every k-th sample: a 24-hour recording's windows stay ~70 MB), float32,
    its straight line from first to last sample removed (baseline wander); edges repeat the end sample."""
    values = np.asarray(values)
    r_peaks = np.asarray(r_peaks, dtype=np.int64)
    step = max(1, int(fs // WINDOW_FS))
    before, after = int(round(WINDOW_S[0] * fs)) // step, int(round(WINDOW_S[1] * fs)) // step
    offsets = step * np.arange(-before, after + 1)
    if len(r_peaks) == 0 or len(values) == 0:
        return np.zeros((len(r_peaks), len(offsets)), np.float32)
    windows = np.empty((len(r_peaks), len(offsets)), np.float32)
    ramp = np.linspace(0.0, 1.0, len(offsets), dtype=np.float32)[None, :]
    for start in range(0, len(r_peaks), 8192):  # bounded temporaries on long recordings
        idx = np.clip(r_peaks[start : start + 8192, None] + offsets[None, :], 0, len(values) - 1)
        w = values[idx].astype(np.float32)
        windows[start : start + 8192] = w - (w[:, :1] + ramp * (w[:, -1:] - w[:, :1]))
    return windows


@dataclass
class MiScreen:
    """The MI screen of one recording; ``scored`` are the indices of the beats its score comes from."""

    status: Status
    reason: str
    lead: str | None = None
    score: float | None = None
    threshold: float | None = None
    flag: bool = False
    scored: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def beats_used(self) -> int:
        return int(len(self.scored))

    def as_dict(self) -> dict[str, object]:
        return {
            "status": self.status,
            "reason": self.reason,
            "lead": self.lead,
            "beats_used": self.beats_used,
            "score": None if self.score is None else round(float(self.score), 6),
            "threshold": self.threshold,
            "flag": bool(self.flag),
        }


def not_applicable(choice: LeadChoice) -> MiScreen:
    return MiScreen("not_applicable", choice.reason)


def too_few_beats(count: int, *, threshold: float | None = None) -> MiScreen:
    """The screen of a recording with (almost) no heartbeat to score: a strip recorded in VF/VFL, which is let in
    with fewer than two (``ecg.io.readers.validate_signal``)."""
    found = "no heartbeat" if count == 0 else f"{count} heartbeat{'' if count == 1 else 's'}"
    return MiScreen(
        "not_assessable",
        f"Too few beats: {found} could be found in the signal (a rhythm such as ventricular fibrillation has "
        f"none to detect); at least {MIN_BEATS} are needed",
        threshold=threshold,
    )


def _template_correlation(windows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Correlation of each beat window with the median window of the candidate beats."""
    corr = np.full(len(windows), -1.0)
    if not candidates.any():
        return corr
    x = windows - windows.mean(axis=1, keepdims=True)
    t = np.median(x[candidates], axis=0)
    t = t - t.mean()
    denominator = np.linalg.norm(x, axis=1) * np.linalg.norm(t)
    np.divide(x @ t, denominator, out=corr, where=denominator > 0)
    return corr


def _premature(r_peaks: np.ndarray) -> np.ndarray:
    """Beats whose RR interval before is shorter than ``PREMATURE`` x the record's median RR."""
    premature = np.zeros(len(r_peaks), dtype=bool)
    if len(r_peaks) >= 3:
        rr = np.diff(np.asarray(r_peaks, dtype=np.float64))
        premature[1:] = rr < PREMATURE * float(np.median(rr))
    return premature


def clean_beats(
    *,
    classes: Sequence[str],
    p_n: np.ndarray,
    windows: np.ndarray,
    r_peaks: np.ndarray | None = None,
    rule: str | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Indices of the dominant, normally conducted, clean beats, and how many each rule excluded.

    ``rule`` "rhythm_morphology" (the default, ``BEAT_RULE``): a beat is ectopic when it is premature,
    unlike the record's dominant beat, or paced/unclassifiable (Q); the heartbeat model's N/S/V/F
    call is not used, since it calls many MI beats of resting ECGs V (bench/mi_applicability.py).
    "class": only N beats with p(N) >= ``MIN_P_N`` count, every non-N beat is ectopic.
    """
    rule = BEAT_RULE if rule is None else rule
    n = len(classes)
    labels = np.asarray(classes, dtype=str)
    p_n = np.asarray(p_n, dtype=np.float64)
    windows = np.asarray(windows, dtype=np.float32)
    if not (len(p_n) == n and len(windows) == n and (r_peaks is None or len(r_peaks) == n)):
        raise ValueError("classes, p_n, windows and r_peaks must have one row per beat")
    excluded: dict[str, int] = {}
    keep = np.ones(n, dtype=bool)
    if rule == "class":
        keep = (labels == "N") & (p_n >= MIN_P_N)
        excluded["not N, or N not confident"] = int(n - keep.sum())
        ectopic = labels != "N"
    else:
        first = _template_correlation(windows, keep) >= MIN_TEMPLATE_CORRELATION
        dominant = _template_correlation(windows, first) >= MIN_TEMPLATE_CORRELATION if first.any() else first
        premature = _premature(r_peaks) if r_peaks is not None else np.zeros(n, dtype=bool)
        paced = labels == "Q"
        ectopic = premature | ~dominant | paced
        excluded["paced or unclassifiable"] = int(paced.sum())
        excluded["premature"] = int((premature & ~paced).sum())
        excluded["unlike the dominant beat"] = int((~dominant & ~premature & ~paced).sum())
        keep = ~ectopic
    # The beat before an ectopic one: its Kaggle-format window (1.2 x the median RR from its R-peak)
    # runs into the early beat. The beat after starts its own window and keeps its shape.
    beside = np.zeros(n, dtype=bool)
    beside[:-1] = ectopic[1:]
    excluded["before an ectopic beat"] = int((keep & beside).sum())
    keep &= ~beside
    if keep.any():
        amplitudes = np.ptp(windows, axis=1)
        median = float(np.median(amplitudes[keep]))
        low, high = AMPLITUDE_RANGE
        ordinary = (amplitudes >= low * median) & (amplitudes <= high * median) if median > 0 else keep
        excluded["amplitude outlier"] = int((keep & ~ordinary).sum())
        keep &= ordinary
    correlation = _template_correlation(windows, keep)
    shaped = correlation >= MIN_TEMPLATE_CORRELATION
    excluded["noisy (unlike the clean template)"] = int((keep & ~shaped).sum())
    keep &= shaped
    return np.flatnonzero(keep), excluded


def screen(
    *,
    choice: LeadChoice,
    classes: Sequence[str],
    p_n: np.ndarray,
    windows: np.ndarray,
    mi_probabilities: np.ndarray,
    threshold: float,
    r_peaks: np.ndarray | None = None,
) -> MiScreen:
    """The MI screen of one recording.

    ``classes`` and ``p_n`` are the heartbeat model's class and p(N) per beat, ``windows`` each
    beat's window of the chosen lead (:func:`beat_windows`) and ``mi_probabilities`` the MI
    model's output on the chosen lead's beats, one row per beat in the same order.
    """
    if not choice.applicable:
        return not_applicable(choice)
    mi = np.asarray(mi_probabilities, dtype=np.float64)
    if len(mi) != len(classes):
        raise ValueError("mi_probabilities must have one value per beat")
    scored, excluded = clean_beats(classes=classes, p_n=p_n, windows=windows, r_peaks=r_peaks)
    dropped = ", ".join(f"{k} {v}" for k, v in excluded.items() if v)
    if len(scored) < MIN_BEATS:
        return MiScreen(
            "not_assessable",
            f"{len(scored)} of {len(classes)} beats are dominant, normally conducted and clean; at least "
            f"{MIN_BEATS} are needed" + (f" (excluded: {dropped})" if dropped else ""),
            lead=choice.lead,
            threshold=threshold,
            scored=scored,
            excluded=excluded,
        )
    score = float(np.median(mi[scored]))
    flag = score >= threshold
    return MiScreen(
        "screened",
        f"{AGGREGATION} MI probability of {len(scored)} of {len(classes)} beats "
        f"(dominant, normally conducted, clean) in {lead_display(choice.lead or '')}"
        + (f"; excluded: {dropped}" if dropped else "")
        + f"; {'at or above' if flag else 'below'} the threshold {threshold:.3f}",
        lead=choice.lead,
        score=score,
        threshold=threshold,
        flag=flag,
        scored=scored,
        excluded=excluded,
    )
