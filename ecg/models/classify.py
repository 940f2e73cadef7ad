"""One continuous recording through both models and the MI screen: the path `classify_record` and
the MI applicability bench share (the worker runs the same steps in chunks, with stored models)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ecg.io.readers import Signal
from ecg.processing import mi_screen
from ecg.rhythm.analysis import RhythmReport


@dataclass
class SignalResult:
    fs: float
    lead: str
    r_peaks: np.ndarray
    beats: np.ndarray  # Kaggle-format beats of the analysed lead
    scores: np.ndarray  # (n, classes) heartbeat model output
    labels: list[str]
    predicted: list[str]
    record_level: bool
    mi_probabilities: np.ndarray | None  # per beat, of the MI lead; None when the screen does not apply
    mi_screen: mi_screen.MiScreen
    rhythm: RhythmReport


@dataclass
class MiInput:
    """What the MI model reads of a recording: the lead chosen and its beats at the analysed R-peaks."""

    choice: mi_screen.LeadChoice
    beats: np.ndarray | None = None
    windows: np.ndarray | None = None


def mi_input(
    leads: dict[str, np.ndarray],
    fs: float,
    r_peaks: np.ndarray,
    *,
    analysed: str,
    analysed_beats: np.ndarray,
    accept_mlii: bool = mi_screen.MLII_QUALIFIES,
    choice: mi_screen.LeadChoice | None = None,
    duration_s: float | None = None,
) -> MiInput:
    """The MI lead of a recording and its Kaggle-format beats, one per R-peak of the analysed lead.

    ``choice`` is the lead already chosen from all of the record's names (``leads`` may then hold
    only the leads it is made of)."""
    from ecg.processing.segmenting import segment_every_peak

    if choice is None:
        choice = mi_screen.choose_lead(list(leads), accept_mlii=accept_mlii, duration_s=duration_s)
    if not choice.applicable:
        return MiInput(choice)
    values = mi_screen.lead_values(leads, choice)
    if choice.source == (analysed,):
        beats = analysed_beats
    else:
        beats = segment_every_peak(values, fs, r_peaks)
    return MiInput(choice, beats, mi_screen.beat_windows(values, fs, r_peaks))


def classify_signal(
    signal: Signal,
    lead: str,
    *,
    heartbeat_model: Any,
    labels: list[str],
    mi_model: Any | None,
    mi_threshold: float,
    accept_mlii: bool = mi_screen.MLII_QUALIFIES,
    any_length: bool = False,
) -> SignalResult:
    """Beats, classes, rhythm and the MI screen of ``signal`` analysed in ``lead``. ``accept_mlii`` and
    ``any_length`` (the MI screen over a recording longer than a resting ECG) exist for the measurement of where
    the screen applies (bench/mi_applicability.py).

    Raises SignalError for a signal that cannot be read, ValueError when no beat can be cut and no VF/VFL is found
    (a strip recorded in VF has no beat to cut: its result is its VF).
    """
    from ecg.models import inference
    from ecg.models import record as record_model
    from ecg.models.decision import record_classes
    from ecg.processing.context import analyse, detection_leads, other_lead
    from ecg.processing.segmenting import segment
    from ecg.rhythm import analyse_rhythm, noise, signal_loss, vf

    values = signal.validated(lead)  # lost samples bridged
    lost = signal.lost_spans(lead)
    record_level = len(heartbeat_model.inputs) == 2
    if record_level:
        second = other_lead(signal.leads, lead)
        more = [v for v in detection_leads(signal.leads, lead) if v is not second]
        beats, context = analyse(values, signal.fs, second, more=more, lost=lost)
        r_peaks = context.r_peaks
        scores = (
            record_model.predict(heartbeat_model, context.morphology, context.features)
            if len(beats)
            else np.zeros((0, len(labels)))
        )
    else:
        beats, r_peaks = segment(values, signal.fs)
        kept = ~signal_loss.overlapping(lost, r_peaks, r_peaks)  # none on a lost sample's bridge
        beats, r_peaks = beats[kept], r_peaks[kept]
        scores = inference.predict(heartbeat_model, beats) if len(beats) else np.zeros((0, len(labels)))
    no_signal = signal_loss.stretches(values, signal.fs, lost)
    vf_found = vf.vf_events(values, signal.fs, r_peaks, no_signal)
    if len(beats) == 0 and not vf_found:
        raise ValueError("no complete heartbeats could be cut from the signal")
    measures = None
    if record_level:  # V shared by shape, most probable class, run rules, no S in AF or flutter (ecg.models.decision)
        from ecg.processing.context import pause_measures
        from ecg.rhythm.analysis import waveform_measures

        measures = waveform_measures(values, signal.fs, r_peaks)  # the rhythm analysis below reads them too
        measures |= pause_measures(context)
        classes = record_classes(scores, labels, r_peaks, signal.fs, measures=measures, morphology=context.morphology)
        predicted = [str(c) for c in classes]
    else:
        from ecg.models.decision import most_probable_classes

        predicted = [str(c) for c in most_probable_classes(scores, labels)]
    p_n = scores[:, labels.index("N")]
    mi_in = mi_input(
        signal.leads,
        signal.fs,
        r_peaks,
        analysed=lead,
        analysed_beats=beats,
        accept_mlii=accept_mlii,
        duration_s=None if any_length else len(values) / signal.fs,
    )
    mi_probs = None
    if mi_model is None:
        screen = mi_screen.MiScreen("not_assessable", "no MI model is active")
    elif len(beats) < 2:  # a strip in VF/VFL, let in with fewer than two beats
        screen = mi_screen.too_few_beats(len(beats), threshold=mi_threshold)
    elif mi_in.beats is None or mi_in.windows is None:
        screen = mi_screen.not_applicable(mi_in.choice)
    else:
        mi_probs = inference.mi_probability(inference.predict(mi_model, mi_in.beats))
        screen = mi_screen.screen(
            choice=mi_in.choice,
            classes=predicted,
            p_n=p_n,
            windows=mi_in.windows,
            r_peaks=r_peaks,
            mi_probabilities=mi_probs,
            threshold=mi_threshold,
        )
    rhythm = analyse_rhythm(
        signal=values,
        fs=signal.fs,
        r_peaks=r_peaks,
        classes=np.asarray(predicted),
        n_samples=len(values),
        measures=measures,
        vf_found=vf_found,
        no_signal=no_signal,
        noisy=noise.noisy(values, signal.fs, r_peaks, context.lead_peaks if record_level else ()),
    )
    return SignalResult(
        fs=signal.fs,
        lead=lead,
        r_peaks=r_peaks,
        beats=beats,
        scores=scores,
        labels=labels,
        predicted=predicted,
        record_level=record_level,
        mi_probabilities=mi_probs,
        mi_screen=screen,
        rhythm=rhythm,
    )
