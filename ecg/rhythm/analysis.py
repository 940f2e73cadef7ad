"""One recording's rhythm: events and the Holter summary, from the signal, its beats and their classes."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import af, ectopy, flutter, heart_rate, noise, pauses, signal_loss, vf
from .events import Event, sort_events

BURDEN_OF = "the time whose rhythm could be read: no signal, noise and VF/VFL left out"
# why a summary's AF burden is None: the pages, the report and FHIR's dataAbsentReason say it in these words
AF_BURDEN_NOT_MEASURED = (
    f"under {af.MIN_EPISODE_S:.0f} s of rhythm (or {af.WINDOW + 2} beats) could be read outside VF/VFL, noise and "
    "stretches without signal, the least atrial fibrillation is called over"
)
BURDEN_OF_BEFORE = "the time with signal, VF/VFL included"  # reports stored before burden_of was written


def burden_of(af_summary: dict[str, Any]) -> str:
    """What a stored summary's AF burden is a share of (``summary["af"]``; reports stored before the
    phrase was written were over the time with signal, VF/VFL included)."""
    return str(af_summary.get("burden_of", BURDEN_OF_BEFORE))


ASYSTOLE_S = 4.0  # no beat and no VF for this long is reported as asystole rather than a pause


@dataclass
class RhythmReport:
    events: list[Event]
    summary: dict[str, Any]
    minutes: dict[str, np.ndarray] = field(repr=False)
    hours: list[dict[str, Any]] = field(repr=False)


def ectopic_burden(total: int, beats: int) -> float | None:
    """Ectopic beats as a share of the beats analysed, in per cent to two places (None where no beat was analysed:
    a share of no beats is no figure)."""
    return round(100.0 * total / beats, 2) if beats else None


def _inside(r_peaks: np.ndarray, events: list[Event], *, strictly: bool = False) -> np.ndarray:
    """Per beat: whether it lies within any of ``events`` (linear in beats and events); ``strictly``, between
    an event's start and end, not on them (a pause's own ends are beats)."""
    depth = np.zeros(len(r_peaks) + 1, np.int64)
    if events:
        starts, ends = [e.start for e in events], [e.end for e in events]
        np.add.at(depth, np.searchsorted(r_peaks, starts, side="right" if strictly else "left"), 1)
        np.add.at(depth, np.searchsorted(r_peaks, ends, side="left" if strictly else "right"), -1)
    return np.cumsum(depth)[:-1] > 0


def waveform_measures(signal: np.ndarray, fs: float, r_peaks: np.ndarray) -> dict[str, np.ndarray]:
    """Per-beat measures of the waveform the beat-based analysis needs: P-wave repetition (AF),
    atrial frequency and organisation (flutter), QRS amplitude (pauses)."""
    r_peaks = np.asarray(r_peaks, dtype=np.int64)
    frequency, organisation = flutter.atrial_organisation(signal, fs, r_peaks)
    return {
        "p_repetition": af.p_wave_repetition(signal, fs, r_peaks),
        "atrial_frequency": frequency,
        "atrial_organisation": organisation,
        "qrs_amplitude": pauses.qrs_amplitude(signal, fs, r_peaks),
    }


def _spanning(r_peaks: np.ndarray, events: list[Event]) -> np.ndarray:
    """Per interval between consecutive beats: whether it overlaps any of ``events`` (for beats that
    lie outside them, the intervals that span one)."""
    out = np.zeros(max(len(r_peaks) - 1, 0), bool)
    for e in events:
        # intervals (r_peaks[k], r_peaks[k + 1]) with r_peaks[k] < e.end and r_peaks[k + 1] > e.start
        first = max(int(np.searchsorted(r_peaks, e.start, side="right")) - 1, 0)
        last = min(int(np.searchsorted(r_peaks, e.end, side="left")), len(out))
        out[first:last] = True
    return out


def _overlaps(event: Event, spans: list[Event]) -> bool:
    return any(event.start <= s.end and s.start <= event.end for s in spans)


def _overlap_s(events: list[Event], spans: list[Event], fs: float) -> float:
    """Seconds of ``spans`` (disjoint) that lie inside ``events``, as ``Event.duration_s`` counts time."""
    return sum(max(0, min(e.end, s.end) - max(e.start, s.start)) for e in events for s in spans) / fs


def analyse_rhythm(
    *,
    signal: np.ndarray | None,
    fs: float,
    r_peaks: np.ndarray,
    classes: np.ndarray,
    n_samples: int | None = None,
    vf_found: list[Event] | None = None,
    measures: dict[str, np.ndarray] | None = None,
    no_signal: list[tuple[int, int]] | None = None,
    noisy: list[tuple[int, int]] | None = None,
) -> RhythmReport:
    """Events (VF/asystole first in the summary) and the heart-rate, HRV, ectopy and AF figures.

    ``signal`` is the analysed lead (needed for VF/VFL, which yields no beats); ``classes`` the AAMI
    class letter of each beat at ``r_peaks``. ``vf_found`` takes VF episodes found earlier
    (``vf.vf_events``), for callers that let go of the signal before the beats are classified;
    ``measures`` likewise takes ``waveform_measures`` of the signal at ``r_peaks`` (and, where the
    record-level inputs were computed, ``qrs_correlation`` and ``second_lead_qrs``: ``context.pause_measures``). Without a signal
    and without them, AF is judged from R-R irregularity alone and not told from flutter, and every
    detected beat ends a pause. ``no_signal`` likewise takes ``signal_loss.stretches`` of the signal
    and the samples its file marks as lost (found here from the signal alone when not given): stretches
    without signal (a lead off) hold no beat, pause, asystole or heart rate, and those of two seconds
    or more no VF (a shorter gap is read through). ``noisy`` likewise takes ``noise.noisy`` of the
    signal at ``r_peaks`` (found here when not given): stretches too noisy to read hold no beat-based
    event or figure either, but VF/VFL is read through them (a VF episode takes their time, and so does
    a regular run of beats classed V or S: ``noise.regular_runs``).
    """
    r_peaks = np.asarray(r_peaks, dtype=np.int64)
    classes = np.asarray([str(c)[:1].upper() for c in classes])
    if n_samples is None:
        n_samples = len(signal) if signal is not None else int(r_peaks[-1]) + 1 if len(r_peaks) else 0

    if no_signal is None:
        no_signal = signal_loss.no_signal(signal, fs) if signal is not None else []
    if vf_found is None:
        vf_found = vf.vf_events(signal, fs, r_peaks, no_signal) if signal is not None else []
    if measures is None and signal is not None and len(r_peaks):
        measures = waveform_measures(signal, fs, r_peaks)
    if noisy is None:
        noisy = noise.noisy(signal, fs, r_peaks) if signal is not None else []
    lost = [Event("no_signal", start, end, 0, None) for start, end in no_signal]
    # VF/VFL and regular ectopic runs keep their time: a missed VF or tachycardia costs more than a false one
    kept_out = [(e.start, e.end) for e in vf_found] + noise.regular_runs(r_peaks, classes)
    noisy = [
        (start, end)
        for start, end in noise.without(noise.without(noisy, kept_out), no_signal)
        if end - start + 1 >= noise.MIN_LEFT_S * fs
    ]
    artefact = [Event("noise", start, end, 0, None) for start, end in noisy]
    lost_or_noisy = sorted(lost + artefact, key=lambda e: e.start)
    in_vf = _inside(r_peaks, vf_found)
    # Beats the detector finds inside VF, where there is no signal or where noise covers the ECG are
    # not beats to read a rhythm from: keep them out of every beat-based figure.
    keep = ~in_vf & ~_inside(r_peaks, lost_or_noisy)
    peaks, cls = r_peaks[keep], classes[keep]
    kept = {name: np.asarray(values)[keep] for name, values in (measures or {}).items()}

    gaps = pauses.pause_events(
        peaks,
        fs,
        qrs_amplitude=kept.get("qrs_amplitude"),
        qrs_correlation=kept.get("qrs_correlation"),
        classes=cls,
        second_lead_qrs=kept.get("second_lead_qrs"),
    )
    asystole = [
        Event("asystole", e.start, e.end, 0, None)
        for e in gaps
        if e.duration_s(fs) >= ASYSTOLE_S and not _overlaps(e, vf_found + lost_or_noisy)
    ]
    pause_list = [e for e in gaps if e.duration_s(fs) < ASYSTOLE_S and not _overlaps(e, vf_found + lost_or_noisy)]
    # The faint marks a pause or asystole was read through (a P or T wave, a ripple: pauses.pause_events) are no
    # beats to any other figure either: counted in, they made MIT-BIH 207's idioventricular run begin inside
    # the pause after its VF and a second pause lie inside that run, and an 8-beat rate count a T wave.
    in_pause = _inside(peaks, pause_list + asystole, strictly=True)
    if np.any(in_pause):
        peaks, cls = peaks[~in_pause], cls[~in_pause]
        kept = {name: values[~in_pause] for name, values in kept.items()}

    # An interval from the last beat before a VF/VFL episode (or a stretch without signal or too noisy to
    # read) to the first after it is no R-R interval: no heart-rate figure holds it (counted in, it reads
    # as a slow rate), and no AF episode, run or pattern of ectopic beats reaches across it.
    unread, across_vf = _spanning(peaks, lost_or_noisy), _spanning(peaks, vf_found)
    across = unread | across_vf
    # AF goes on through a stretch it cannot be read in (noise, a lead off), not through VF
    bridges = unread & ~across_vf
    af_found, in_af = af.af_events(peaks, cls, fs, p_repetition=kept.get("p_repetition"), gaps=across, bridges=bridges)
    if "atrial_organisation" in kept:
        af_found = flutter.split_flutter(
            af_found, peaks, fs, kept["atrial_frequency"], kept["atrial_organisation"], gaps=across
        )
    v_events, v_summary = ectopy.ectopic_events(peaks, cls, fs, kind="V", gaps=across)
    # An irregular rhythm makes S labels meaningless: no S beat inside AF or flutter is supraventricular
    # ectopy, nor one of a couplet or run that reaches into it (svdb 854: an atrial run whose last beat
    # is the AF's first); they are in no total, no event and no hourly count, and counted apart.
    s_events, s_summary = ectopy.ectopic_events(peaks, cls, fs, kind="S", gaps=across)
    into_af = [e for e in s_events if _overlaps(e, af_found)]
    s_events = [e for e in s_events if not _overlaps(e, af_found)]
    s_in_af = (cls == "S") & _inside(peaks, af_found + into_af)
    ectopy_cls = np.where(s_in_af, "N", cls)
    # every S beat left is isolated or in a listed event: the summary counts what the event list holds
    total = int(np.sum(ectopy_cls == "S"))
    isolated = total - sum(e.beats or 0 for e in s_events)  # ectopic events all count their beats
    s_summary |= {"total": total, "isolated": isolated, "in_af": int(s_in_af.sum())} | ectopy.run_summary(s_events)
    patterns = ectopy.pattern_events(peaks, cls, fs, gaps=across)
    # bradycardia and tachycardia are of the underlying rhythm: not where AF or an ectopic run sets the
    # rate (a couplet does not split a sinus tachycardia in two)
    runs = [e for e in v_events + s_events if not e.type.endswith("_couplet")]
    rates = pauses.rate_episodes(peaks, fs, excluded=_inside(peaks, af_found + runs), gaps=across)

    events = sort_events(vf_found + asystole + af_found + v_events + s_events + patterns + pause_list + rates)

    minutes = heart_rate.per_minute(peaks, fs, n_samples, gaps=across)
    hours = heart_rate.per_hour(peaks, ectopy_cls, fs, n_samples, gaps=across)
    nn_ms, nn_t = heart_rate.nn_intervals(peaks, cls, fs, excluded=in_af)
    hrv = heart_rate.hrv_time(nn_ms, nn_t)
    if hrv["reason"] and len(peaks):
        # what left so few: beats not classed N, atrial fibrillation or flutter (whichever applies)
        causes = [
            f"{share:.0f} % of the beats {what}"
            for share, what in (
                (100.0 * float(np.mean(cls != "N")), "are not classed N"),
                (100.0 * float(np.mean(in_af)) if len(in_af) else 0.0, "lie in atrial fibrillation or flutter"),
            )
            if share >= 10.0
        ]
        if causes:
            hrv["reason"] += f" ({'; '.join(causes)})"
    analysed_s = n_samples / fs
    noisy_s = sum(e.end - e.start + 1 for e in artefact) / fs
    # VF/VFL time holds no atrial rhythm to read either (noise was marked outside it already)
    vf_s = sum(e.end - e.start + 1 for e in vf_found) / fs - _overlap_s(vf_found, lost, fs)
    readable_s = analysed_s - sum(e.end - e.start + 1 for e in lost) / fs - noisy_s - vf_s
    # the AF time is what could be read of it: an episode that goes on through noise holds that noise
    af_s = sum(e.duration_s(fs) for e in af_found) - _overlap_s(af_found, lost_or_noisy, fs)
    longest_pause = max(pause_list + asystole, key=lambda e: e.end - e.start, default=None)
    mean_bpm = heart_rate.mean_rate(peaks, fs, across)
    # ectopic burden: the share of the beats analysed that are V (or S outside AF) beats, as Holter reports give it
    # beside the count (a ventricular burden of 10 % or more is what a cardiologist weighs for cardiomyopathy)
    for ectopy_summary in (v_summary, s_summary):
        ectopy_summary["burden_pct"] = ectopic_burden(ectopy_summary["total"], len(peaks))
    summary = {
        "duration_s": round(analysed_s, 1),
        # detections inside VF/VFL, a stretch without signal or noise, and faint marks inside a pause: in the class
        # counts of every detected beat,
        # in no rhythm figure (the ectopy totals, the hourly table), so a page can say why they differ
        "beats_analysed": int(len(peaks)),
        "beats_left_out": int(len(r_peaks) - len(peaks)),
        "vf": [e.as_dict() for e in vf_found],
        "asystole": [e.as_dict() for e in asystole],
        "no_signal": [{"start": e.start, "end": e.end} for e in lost],
        "no_signal_s": round(sum(e.end - e.start + 1 for e in lost) / fs, 1),
        # too noisy to read: no beat-based event or figure there (VF/VFL is read through noise)
        "noise": [{"start": e.start, "end": e.end} for e in artefact],
        "noise_s": round(noisy_s, 1),
        "heart_rate": {
            "mean_bpm": None if mean_bpm is None else round(mean_bpm, 1),
            **heart_rate.extremes(peaks, fs, gaps=across),
        },
        "hrv": hrv,
        "ventricular": v_summary
        | {
            "bigeminy_episodes": sum(1 for e in patterns if e.type == "bigeminy"),
            "trigeminy_episodes": sum(1 for e in patterns if e.type == "trigeminy"),
        },
        "supraventricular": s_summary,
        "af": {
            "episodes": len(af_found),
            "flutter_episodes": sum(1 for e in af_found if e.type == "afl"),
            "duration_s": round(af_s, 1),
            # over the time whose rhythm could be read: a lead off, noise or VF/VFL is no time in sinus rhythm; None
            # where too little could be read for AF to be called at all (a strip in VF, a 10-s ECG): not 0 %
            "burden_pct": round(100.0 * af_s / readable_s, 2) if af.burden_measurable(readable_s, len(peaks)) else None,
            # what the burden is a share of (reports stored before it left VF/VFL time in)
            "burden_of": BURDEN_OF,
        },
        "pauses": {
            "count": len(pause_list) + len(asystole),
            "longest": longest_pause.as_dict() if longest_pause else None,
        },
        "event_counts": {t: sum(1 for e in events if e.type == t) for t in sorted({e.type for e in events})},
        "hourly": hours,
        # the hourly extremes' window (reports stored before it was the summary's 8 used 4 beats)
        "hourly_extreme_beats": heart_rate.EXTREME_BEATS,
    }
    return RhythmReport(events=events, summary=summary, minutes=minutes, hours=hours)
