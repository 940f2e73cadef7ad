"""The result of a recording as a FHIR R4 Bundle (validated in the tests with fhir.resources)."""

import uuid
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.utils import timezone

from diagnostics import corrections, diary, rhythm_reviewed, selectors
from diagnostics.models import Diagnosis, DiaryActivity, DiaryEntry, ECGRecording, EventReview, Interpretation, Review
from ecg.clock import data_seconds, seconds_cut
from ecg.constants import AAMI_CLASSES, AAMI_NAMES
from ecg.rhythm.analysis import AF_BURDEN_NOT_MEASURED, burden_of

MDC = "urn:oid:2.16.840.1.113883.6.24"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
LOCAL = "urn:ecg-analyzer:codes"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

ECG_WAVEFORM = ("131328", "MDC_ECG_ELEC_POTL")
# MDC codes of the ECG leads (ISO/IEEE 11073-10101); modified limb lead II (MLII) is reported as II.
LEAD_CODES = {
    "I": ("131329", "MDC_ECG_ELEC_POTL_I"),
    "II": ("131330", "MDC_ECG_ELEC_POTL_II"),
    "MLII": ("131330", "MDC_ECG_ELEC_POTL_II"),
    "V1": ("131331", "MDC_ECG_ELEC_POTL_V1"),
    "V2": ("131332", "MDC_ECG_ELEC_POTL_V2"),
    "V3": ("131333", "MDC_ECG_ELEC_POTL_V3"),
    "V4": ("131334", "MDC_ECG_ELEC_POTL_V4"),
    "V5": ("131335", "MDC_ECG_ELEC_POTL_V5"),
    "V6": ("131336", "MDC_ECG_ELEC_POTL_V6"),
    "III": ("131389", "MDC_ECG_ELEC_POTL_III"),
    "AVR": ("131390", "MDC_ECG_ELEC_POTL_AVR"),
    "AVL": ("131391", "MDC_ECG_ELEC_POTL_AVL"),
    "AVF": ("131392", "MDC_ECG_ELEC_POTL_AVF"),
}
HEART_RATE = ("147842", "MDC_ECG_HEART_RATE")
SYMPTOM = ("75325-1", "Symptom")  # LOINC: a symptom reported, its finding (SNOMED CT) as the value
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
# The heart rate awake and asleep: statistics of the recording split by the diary's sleep periods (local codes, as
# the 8-beat extremes: no vital sign taken then, so a receiver charting vitals by LOINC 8867-4 does not chart them)
SLEEP_SIDES = (("awake", "Heart rate awake"), ("asleep", "Heart rate asleep"))
SEX = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}


def installation() -> str:
    """This installation's id (accounts.Installation: made once, kept whatever its keys), in the identifier
    systems of its own and the namespace of the Bundle's ids."""
    from accounts.models import Installation

    return str(Installation.current().uuid)


def mrn_system(clinic, here: str | None = None) -> str:
    """The Patient identifier's system: the clinic's MRN system where its administrator set one (the hospital's),
    else one of this installation's own (two installations' clinic 1 are two systems)."""
    return clinic.mrn_system or f"urn:ecg-analyzer:{here or installation()}:clinic:{clinic.pk}:mrn"


def _urn(*parts, namespace: str) -> str:
    """Stable ids, so the same result gives the same Bundle (and ETag) on every request; this installation's own
    (a fixed namespace had given every installation's recording 7 the same ids)."""
    return f"urn:uuid:{uuid.uuid5(uuid.UUID(namespace), ':'.join(map(str, parts)))}"


def _coding(system: str, code: str, display: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _lead_code(name: str) -> dict:
    code, display = LEAD_CODES.get(name.strip().upper().replace("-", ""), ECG_WAVEFORM)
    return {"coding": [_coding(MDC, code, display)], "text": f"Lead {name}"}


SAMPLED_MAX = 2**31 - 1  # the largest integer a receiving system is sure to hold


def _sampled(
    values: np.ndarray, *, period_ms: float, unit: str, code: str, lost: list[tuple[int, int]] | None = None
) -> dict:
    """valueSampledData in thousandths of the unit (factor 0.001), which keeps the text compact and exact;
    a coarser power of ten where thousandths would not fit in 32-bit integers (an uncalibrated file's
    counts), so no value ever wraps. Samples the file marks as lost (``lost``: spans, end inclusive) are
    written "E", SampledData's "no valid value", not the line the analysis draws across them."""
    x = np.nan_to_num(np.asarray(values, dtype=np.float64), posinf=0.0, neginf=0.0)
    peak = float(np.abs(x).max()) if len(x) else 0.0
    exponent = -3
    while peak / 10.0**exponent > SAMPLED_MAX:
        exponent += 1
    scaled = np.round(x / 10.0**exponent).astype(np.int64)
    return {
        "origin": {"value": 0, "unit": unit, "system": UCUM, "code": code},
        "period": round(period_ms, 6),
        "factor": 10.0**exponent if exponent >= 0 else round(10.0**exponent, -exponent),
        "dimensions": 1,
        "data": " ".join(_with_lost(_as_text(scaled), lost or [])),
    }


def _as_text(values: np.ndarray) -> list[str]:
    """Each integer as ``str`` writes it. An ECG's thousandths of a millivolt span a few thousand values over millions
    of samples: each value's text is made once and looked up (``str`` on each of a 24-hour record's 4,000,000 samples
    took most of a second)."""
    if len(values) == 0:
        return []
    low, high = int(values.min()), int(values.max())
    if high - low >= len(values) // 4:
        return list(map(str, values.tolist()))
    texts = np.array([str(v) for v in range(low, high + 1)], dtype=object)
    return texts[values - low].tolist()


MR_TYPE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical record number"}
    ],
    "text": "Medical record number",
}


def _with_lost(tokens: list[str], lost: list[tuple[int, int]]) -> list[str]:
    for start, end in lost:
        if start < len(tokens):
            tokens[start : end + 1] = ["E"] * (min(end + 1, len(tokens)) - start)
    return tokens


def _observation(
    *, subject: str, effective: dict, code: dict, category: str = "procedure", status: str = "final", **value: object
) -> dict:
    """``status`` is "amended" for an Observation whose content a doctor's review changed (see ``bundle``);
    ``effective`` is its ``effectiveDateTime`` or ``effectivePeriod`` (see ``_effective``)."""
    return {
        "resourceType": "Observation",
        "status": status,
        "category": [{"coding": [_coding(OBSERVATION_CATEGORY, category)]}],
        "code": code,
        "subject": {"reference": subject},
        **effective,
        **value,
    }


def _waveform(
    *,
    recording: ECGRecording,
    signal,
    beats,
    subject: str,
    effective: dict,
    input_fs: float,
    unreadable: str | None = None,
) -> dict | None:
    limit = settings.API_FHIR_MAX_SAMPLES
    note = None
    if unreadable is not None:
        # the results stand without it: the Observation stays, with no value and the reason (obs-6)
        observation = _observation(
            subject=subject,
            effective=effective,
            category="procedure",
            code={"coding": [_coding(MDC, *ECG_WAVEFORM)], "text": "ECG waveform (not available)"},
            dataAbsentReason={"coding": [_coding(DATA_ABSENT, "error")], "text": "The stored signal could not be read"},
        )
        observation["note"] = [{"text": f"The stored signal could not be read: {unreadable}"}]
        return observation
    if signal is not None:
        components, uncalibrated = [], []
        # the bound holds over every lead together: per lead, a small file of many long leads had made each
        # export of it hundreds of MB (security review)
        per_lead = max(1, limit // max(1, len(signal.lead_order)))
        for name in signal.lead_order:
            values = signal.leads[name]
            length = signal.file_samples or len(values)  # a long record's leads may have been read in part
            if length > per_lead:
                note = (
                    f"Each lead is truncated to its first {per_lead} of {length} samples "
                    f"({limit} samples over its {len(signal.lead_order)} leads)."
                )
            unit = (signal.units or {}).get(name)
            if unit is not None and unit.strip().lower() in ("mv", "millivolt"):
                unit = code = "mV"
            else:
                # the file states no units, or ones the readers do not convert to mV ("adu", a DICOM's "unknown"):
                # its own numbers, not millivolts, and its text no UCUM code
                uncalibrated.append(name)
                unit, code = f"the file's own units ({unit.strip() if unit else 'not stated'})", "1"
            components.append(
                {
                    "code": _lead_code(name),
                    "valueSampledData": _sampled(
                        values[:per_lead],
                        period_ms=1000.0 / signal.fs,
                        unit=unit,
                        code=code,
                        lost=signal.lost.get(name),
                    ),
                }
            )
        text = f"ECG waveform, {len(signal.lead_order)} lead(s) at {signal.fs:g} Hz"
        if uncalibrated:
            text += (
                f"; the file states no units in millivolts for {', '.join(uncalibrated)}: the values are its own, uncalibrated "
                "(UCUM 1), not millivolts"
            )
    elif beats is not None and len(beats):
        flat = np.asarray(beats, dtype=np.float64).reshape(-1)
        if len(flat) > limit:
            note = f"Truncated to the first {limit} of {len(flat)} samples."
        components = [
            {
                "code": {"coding": [_coding(MDC, *ECG_WAVEFORM)], "text": "Beat windows (model input)"},
                "valueSampledData": _sampled(flat[:limit], period_ms=1000.0 / input_fs, unit="1", code="1"),
            }
        ]
        text = (
            f"{len(beats)} beat windows of {beats.shape[1]} samples each, scaled to [0, 1] "
            f"(the uploaded beat format), concatenated"
        )
    else:
        return None
    observation = _observation(
        subject=subject,
        effective=effective,
        category="procedure",
        code={"coding": [_coding(MDC, *ECG_WAVEFORM)], "text": text},
        component=components,
    )
    if note:
        observation["note"] = [{"text": note}]
    return observation


# Episodes a receiving system must hear of, life-threatening first: (key of the summary or of its event
# counts, code, text). VF/VFL and asystole are interpreted as critical (AA), VT and pauses as abnormal (A).
RHYTHM_EPISODES = (
    ("vf", "ventricular-fibrillation-episodes", "Ventricular flutter / fibrillation episodes"),
    ("asystole", "asystole-episodes", "Asystole episodes (no beat for 4 s or more)"),
    (
        "vt",
        "ventricular-tachycardia-episodes",
        "Ventricular tachycardia episodes (3 beats or more at 100 /min or more)",
    ),
    ("pause", "pause-episodes", "Pauses of 2 s or more and under 4 s (longer ones are the asystole episodes)"),
)


def _total_seconds(episodes: list[dict], fs: float) -> float:
    return sum(e["end"] - e["start"] for e in episodes) / fs


def _episode_observations(
    rhythm: dict,
    *,
    subject: str,
    effective: dict,
    fs: float | None,
    reviewed: set[str] | None = None,
) -> list[dict]:
    """One Observation per kind of ``RHYTHM_EPISODES``: how many, their total duration and the first's
    onset in seconds from the start of the recording (none found: 0, interpretation normal).

    ``rhythm`` is the summary over the events no doctor rejected (diagnostics.rhythm_reviewed): episodes a doctor
    rejected on review are left out of the count, the durations and the interpretation, and counted in a component
    of their own: a receiving system must not raise an alarm a doctor has dismissed. The kinds a doctor reviewed
    an episode of (``reviewed``) are "amended"."""
    out = []
    counts = rhythm.get("event_counts") or {}
    for key, code, text in RHYTHM_EPISODES:
        dismissed = int((rhythm.get("rejected") or {}).get(key, 0))
        episodes: list[dict] | None = rhythm.get(key) or [] if key in ("vf", "asystole") else None
        count = len(episodes) if episodes is not None else int(counts.get(key, 0))
        flag = ("AA" if key in ("vf", "asystole") else "A") if count else "N"
        components = []
        if dismissed:
            components.append(
                {
                    "code": {"coding": [_coding(LOCAL, f"{code}-rejected")], "text": "Rejected by a doctor on review"},
                    "valueQuantity": {"value": dismissed, "unit": "episodes", "system": UCUM, "code": "{episodes}"},
                }
            )
        if episodes and fs:
            in_seconds = {"unit": "s", "system": UCUM, "code": "s"}
            total = data_seconds(_total_seconds(episodes, fs))  # as the events give an episode's duration
            first = data_seconds(min(e["start"] for e in episodes) / fs)
            components += [
                {
                    "code": {"coding": [_coding(LOCAL, f"{code}-duration")], "text": "Total duration"},
                    "valueQuantity": {"value": total, **in_seconds},
                },
                {
                    "code": {"coding": [_coding(LOCAL, f"{code}-first-onset")], "text": "First onset, from the start"},
                    "valueQuantity": {"value": first, **in_seconds},
                },
            ]
        observation = _observation(
            subject=subject,
            effective=effective,
            status="amended" if key in (reviewed or ()) else "final",
            code={"coding": [_coding(LOCAL, code)], "text": text},
            valueQuantity={"value": count, "unit": "episodes", "system": UCUM, "code": "{episodes}"},
            interpretation=[{"coding": [_coding(INTERPRETATION, flag)]}],
        )
        if components:
            observation["component"] = components
        out.append(observation)
    return out


def _rhythm_conclusion(rhythm: dict | None, fs: float | None) -> str:
    """The report conclusion's rhythm sentence: life-threatening episodes first, when there are any,
    and those a doctor rejected on review said to be so (``rhythm`` over the events no doctor rejected)."""
    if not rhythm:
        return ""
    found, dismissed = [], []
    for key, label in (("vf", "VF/VFL"), ("asystole", "asystole")):
        episodes = rhythm.get(key) or []
        if episodes:
            in_all = f", {seconds_cut(_total_seconds(episodes, fs), 0):.0f} s in all" if fs else ""
            found.append(f"{label} {len(episodes)} episode{'s' if len(episodes) != 1 else ''}{in_all}")
        n = int((rhythm.get("rejected") or {}).get(key, 0))
        if n:
            dismissed.append(f"{label} {n} episode{'s' if n != 1 else ''}")
    out = f"Life-threatening rhythm: {'; '.join(found)}. " if found else ""
    if dismissed:
        out += f"Detected and rejected by a doctor on review: {'; '.join(dismissed)}. "
    return out


def _percent_or_absent(value: float | None, absent: str) -> dict:
    """A share in per cent as an Observation's or component's value, or, where the summary could not measure it
    (None), its dataAbsentReason saying why (``absent``): no 0 % of nothing."""
    if value is None:
        return {"dataAbsentReason": {"coding": [_coding(DATA_ABSENT, "not-performed")], "text": absent}}
    return {"valueQuantity": {"value": value, "unit": "%", "system": UCUM, "code": "%"}}


def _rhythm_observations(
    rhythm: dict | None,
    *,
    subject: str,
    effective: dict,
    fs: float | None = None,
    reviewed: set[str] | None = None,
    origin: datetime | None = None,
) -> list[dict]:
    """HR minimum / maximum (over 8 beats), AF burden, ectopy counts and the episodes a receiving
    system must hear of (VF/VFL, asystole, VT, pauses) of the Holter summary, over the events no doctor rejected
    (diagnostics.rhythm_reviewed.rhythm_standing): those rejected are counted apart, as components, and the
    Observations of the kinds a doctor decided on (``reviewed``) are "amended".

    The HR extremes are effective over their own 8 beats where the recording's start (``origin``) is
    known, and say where those beats begin and end in seconds from the start wherever the rate is."""
    if not rhythm:
        return []
    reviewed = reviewed or set()
    rejected = rhythm.get("rejected") or {}
    out = _episode_observations(rhythm, subject=subject, effective=effective, fs=fs, reviewed=reviewed)
    for key, text in (("hr_min", "Minimum heart rate (8 beats)"), ("hr_max", "Maximum heart rate (8 beats)")):
        extreme = rhythm.get("heart_rate", {}).get(key)
        if extreme:
            window: dict = {}
            if fs:
                in_seconds = {"unit": "s", "system": UCUM, "code": "s"}
                window["component"] = [
                    {
                        "code": {"coding": [_coding(LOCAL, f"heart-rate-{key[3:]}-{edge}")], "text": label},
                        "valueQuantity": {"value": data_seconds(extreme[edge] / fs), **in_seconds},
                    }
                    for edge, label in (
                        ("start", "First of its beats, from the start"),
                        ("end", "Last of its beats, from the start"),
                    )
                ]
            out.append(
                _observation(
                    subject=subject,
                    effective=_window_effective(origin, extreme, fs) or effective,
                    # a statistic of the recording, not a vital sign taken then: LOINC 8867-4 and the
                    # vital-signs category stay the mean's alone, so a receiver charting vitals by code
                    # does not chart three rates at one instant
                    code={"coding": [_coding(LOCAL, f"heart-rate-{key[3:]}", text)], "text": text},
                    valueQuantity={"value": extreme["bpm"], "unit": "beats/minute", "system": UCUM, "code": "/min"},
                    **window,
                )
            )
    af = rhythm.get("af", {})
    af_rejected = sum(int(rejected.get(t, 0)) for t in rhythm_reviewed.AF_TYPES)
    out.append(
        _observation(
            subject=subject,
            effective=effective,
            status="amended" if reviewed & set(rhythm_reviewed.AF_TYPES) else "final",
            code={
                "coding": [_coding(LOCAL, "af-burden", "Atrial fibrillation burden")],
                "text": f"Atrial fibrillation burden (share of {burden_of(af)})",
            },
            **_percent_or_absent(af.get("burden_pct", 0.0), f"Not measured: {AF_BURDEN_NOT_MEASURED}"),
            component=[
                {
                    "code": {"coding": [_coding(LOCAL, "af-episodes")], "text": "AF episodes"},
                    "valueInteger": int(af.get("episodes", 0)),
                },
                *(
                    [
                        {
                            "code": {
                                "coding": [_coding(LOCAL, "af-episodes-rejected")],
                                "text": "AF episodes rejected by a doctor on review",
                            },
                            "valueInteger": af_rejected,
                        }
                    ]
                    if af_rejected
                    else []
                ),
            ],
        )
    )
    n_out = int(rhythm.get("beats_left_out") or 0)
    left_out = (
        f"Over the beats outside VF/VFL, stretches without signal and noise and faint marks inside pauses; the {n_out} detection"
        f"{'s' if n_out != 1 else ''} there {'are' if n_out != 1 else 'is'} in the beat-class counts only."
        if n_out
        else ""
    )
    ectopy_rejected = rhythm_reviewed.rejected_by_side(rejected)
    for kind, label in (("ventricular", "Ventricular"), ("supraventricular", "Supraventricular")):
        figures = rhythm.get(kind, {})
        components = [
            {
                "code": {
                    "coding": [_coding(LOCAL, f"{kind}-{name.replace('_', '-')}")],
                    "text": f"{label} {name.replace('_', ' ')}",
                },
                "valueInteger": int(figures.get(name, 0)),
            }
            for name in ("isolated", "couplets", "runs", "bigeminy_episodes", "trigeminy_episodes")
            if name in figures
        ]
        if "burden_pct" in figures:  # absent from reports stored before it
            components.append(
                {
                    "code": {
                        "coding": [_coding(LOCAL, f"{kind}-ectopic-burden")],
                        "text": f"{label} ectopic burden (share of the beats analysed)",
                    },
                    **_percent_or_absent(figures["burden_pct"], "Not measured: no beat was analysed"),
                }
            )
        if ectopy_rejected[kind]:
            components.append(
                {
                    "code": {
                        "coding": [_coding(LOCAL, f"{kind}-events-rejected")],
                        "text": f"{label} runs, couplets and patterns rejected by a doctor on review (not counted above)",
                    },
                    "valueInteger": ectopy_rejected[kind],
                }
            )
        out.append(
            _observation(
                subject=subject,
                effective=effective,
                status="amended" if reviewed & rhythm_reviewed.ECTOPY_EVENTS[kind] else "final",
                code={"coding": [_coding(LOCAL, f"{kind}-ectopic-beats")], "text": f"{label} ectopic beats"},
                valueQuantity={
                    "value": int(figures.get("total", 0)),
                    "unit": "beats",
                    "system": UCUM,
                    "code": "{beats}",
                },
                component=components,
            )
            | _note(
                " ".join(
                    part for part in (left_out, _in_af_note(figures) if kind == "supraventricular" else "") if part
                )
            )
        )
    return out


def _window_effective(origin: datetime | None, window: dict, fs: float | None) -> dict | None:
    """The effectivePeriod of a stretch of the recording (``start`` and ``end`` samples) where its start
    (``origin``, an aware time) is known: the time elapsed is added to the instant, then written in the site's
    zone (added to the wall-clock time, a stretch after a change of summer time would read an hour off)."""
    if origin is None or not fs:
        return None
    return {
        "effectivePeriod": {
            edge: timezone.localtime(origin + timedelta(seconds=window[edge] / fs)).isoformat()
            for edge in ("start", "end")
        }
    }


def _in_af_note(figures: dict) -> str:
    n = int(figures.get("in_af") or 0)
    return (
        f"{n} beat{'s' if n != 1 else ''} called S inside or running into atrial fibrillation or flutter {'are' if n != 1 else 'is'}"
        " not counted as ectopy."
        if n
        else ""
    )


def _diary_observations(
    recording: ECGRecording, entries: list[DiaryEntry], rhythm: dict | None, *, subject: str, effective: dict
) -> tuple[list[dict], str]:
    """One Observation per symptom in the patient's diary (LOINC 75325-1, the symptom's SNOMED CT finding as its
    value, the patient its performer: the patient noted it), effective at its moment where the recording's start is
    known, else over the recording as the summary is; its place in seconds from the start, the heart rate of its
    strip and the rhythm events it lies in as components, the finding and the diary's note as notes. With the
    diary's sentence for the report's conclusion ("" for none)."""
    out, rows = [], []
    rhythms = diary.rhythms_at(recording, [entry.sample for entry in entries], rhythm)
    for entry, found in zip(entries, rhythms, strict=True):
        rows.append({"rhythm": found})
        when = diary.moment_datetime(recording, entry.sample)
        said = diary.symptom_said(entry)
        codings = [_coding(LOCAL, f"diary-symptom-{entry.symptom}", entry.get_symptom_display())]
        if entry.symptom in diary.SNOMED_CT:
            codings.insert(0, _coding(SNOMED, *diary.SNOMED_CT[entry.symptom]))
        components = [
            {
                "code": {"coding": [_coding(LOCAL, "diary-moment")], "text": "Moment noted, from the start"},
                "valueQuantity": {
                    "value": data_seconds(entry.sample / (recording.sampling_rate or 1.0)),
                    "unit": "s",
                    "system": UCUM,
                    "code": "s",
                },
            }
        ]
        if found["rate_bpm"] is not None:
            components.append(
                {
                    # the rate of the 10-s strip around it: no vital sign taken then (see the HR extremes)
                    "code": {"coding": [_coding(LOCAL, "diary-heart-rate")], "text": "Heart rate around it (10 s)"},
                    "valueQuantity": {
                        "value": found["rate_bpm"],
                        "unit": "beats/minute",
                        "system": UCUM,
                        "code": "/min",
                    },
                }
            )
        components += [
            {
                "code": {"coding": [_coding(LOCAL, "diary-rhythm-during")], "text": "During the rhythm event"},
                "valueCodeableConcept": {
                    "coding": [_coding(LOCAL, f"event-{d['type']}", d["label"])],
                    "text": d["label"],
                },
            }
            for d in found["during"]
            if not d["rejected"]
        ]
        notes = [
            found["finding"],
            entry.note and f"Diary: {entry.note}",
            f"Entered by {entry.entered_by.display_name}.",
        ]
        observation = _observation(
            subject=subject,
            effective={"effectiveDateTime": when.isoformat()} if when else effective,
            category="survey",
            code={"coding": [_coding(LOINC, *SYMPTOM)], "text": "Symptom noted in the patient's diary"},
            valueCodeableConcept={"coding": codings, "text": said},
            performer=[{"reference": subject}],
            component=components,
            note=[{"text": text} for text in notes if text],
        )
        out.append(observation)
    conclusion = diary.correlation(rows)
    return out, f"Patient diary: {conclusion} " if conclusion else ""


def _sleep_observations(
    recording: ECGRecording, activities: list[DiaryActivity], rhythm: dict | None, *, subject: str, effective: dict
) -> tuple[list[tuple[str, dict]], str]:
    """The heart rate awake and asleep over the sleep periods of the patient's diary (diagnostics.diary.awake_asleep,
    as ``recordings/{id}/sleep`` gives it; nothing without a sleep period or a per-minute trend): an Observation
    each side (its key and the Observation), effective over the recording as the summary is, valued by the mean over
    its minutes' R-R intervals; the minutes counted, the lowest and highest over 4 beats with the start of their
    minute in seconds from the start, the AF / flutter burden where the recording holds any, and the rhythm events by
    type that began on that side (those a doctor rejected left out) as components. With the sentence for the report's
    conclusion ("" for none)."""
    figures = diary.awake_asleep(recording, rhythm, activities)
    if figures is None:
        return [], ""
    per_minute = {"unit": "beats/minute", "system": UCUM, "code": "/min"}
    in_seconds = {"unit": "s", "system": UCUM, "code": "s"}
    periods = figures["periods"]
    out, said = [], []
    for side, text in SLEEP_SIDES:
        over = figures[side]
        components: list[dict] = [
            {
                "code": {"coding": [_coding(LOCAL, f"heart-rate-{side}-minutes")], "text": "Minutes counted"},
                "valueQuantity": {"value": over["minutes"], "unit": "min", "system": UCUM, "code": "min"},
            }
        ]
        for key, label in (("lowest", "Lowest"), ("highest", "Highest")):
            extreme = over[key]
            if extreme is None:
                continue
            components += [
                {
                    "code": {
                        "coding": [_coding(LOCAL, f"heart-rate-{side}-{key}")],
                        "text": f"{label} heart rate over {figures['extreme_beats']} beats",
                    },
                    "valueQuantity": {"value": extreme["bpm"], **per_minute},
                },
                {
                    "code": {
                        "coding": [_coding(LOCAL, f"heart-rate-{side}-{key}-minute")],
                        "text": f"Start of the minute of the {label.lower()}, from the start",
                    },
                    "valueQuantity": {"value": extreme["minute"] * 60, **in_seconds},
                },
            ]
        if figures["af_any"] and over.get("af_burden_pct") is not None:
            components.append(
                {
                    "code": {
                        "coding": [_coding(LOCAL, f"af-burden-{side}")],
                        "text": f"Share of the minutes {side} in atrial fibrillation or flutter",
                    },
                    "valueQuantity": {"value": over["af_burden_pct"], "unit": "%", "system": UCUM, "code": "%"},
                }
            )
        components += [
            {
                "code": {
                    "coding": [_coding(LOCAL, f"{side}-events-{event['type']}")],
                    "text": f"{event['label']} episodes that began {side}",
                },
                "valueInteger": event[side],
            }
            for event in figures["events"]
            if event[side]
        ]
        where = "whose middle lies in" if side == "asleep" else "outside"
        note = (
            f"Over the minutes of the per-minute trend {where} the {periods} sleep period{'s' if periods != 1 else ''} "
            f"of the patient's diary; the mean over their R-R intervals, the lowest and highest the minutes' "
            f"{figures['extreme_beats']}-beat extremes (not the 8-beat minimum and maximum of the recording)."
        )
        value: dict = (
            {"valueQuantity": {"value": over["mean_bpm"], **per_minute}}
            if over["mean_bpm"] is not None
            else {"dataAbsentReason": {"coding": [_coding(DATA_ABSENT, "unknown")], "text": "No minute with a rate"}}
        )
        out.append(
            (
                side,
                _observation(
                    subject=subject,
                    effective=effective,
                    code={"coding": [_coding(LOCAL, f"heart-rate-{side}", text)], "text": f"{text} (mean)"},
                    **value,
                    component=components,
                )
                | _note(note),
            )
        )
        said.append(f"{side} {over['mean_bpm']} bpm" if over["mean_bpm"] is not None else f"{side} not read")
    return out, f"Heart rate by the patient's diary: {', '.join(reversed(said))}. "


def bundle(
    *, recording: ECGRecording, diagnosis: Diagnosis, signal=None, beats=None, unreadable: str | None = None
) -> dict:
    """The recording's results as a FHIR Bundle. ``unreadable``: why its stored signal (or beat windows) could not
    be read; the waveform's Observation then carries that reason instead of its samples."""
    patient = recording.patient
    here = installation()
    patient_ref = _urn("patient", patient.pk, namespace=here)
    start, effective = _effective(recording)
    patient_resource = {
        "resourceType": "Patient",
        # typed MR (HL7 v2-0203), so a receiver tells the medical record number from other identifiers
        "identifier": [
            {"use": "usual", "type": MR_TYPE, "system": mrn_system(patient.clinic, here), "value": patient.mrn}
        ],
        "name": [{"family": patient.family_name, **({"given": [patient.given_name]} if patient.given_name else {})}],
        "gender": SEX.get(patient.sex, "unknown"),
    }
    if patient.date_of_birth:
        patient_resource["birthDate"] = patient.date_of_birth.isoformat()

    # the rhythm over the events no doctor rejected on review: a rejected one, of any kind, is counted apart
    events, decided = selectors.event_reviews_latest(recording=recording)
    rejected = selectors.rejected_on_review(decided)
    rhythm = rhythm_reviewed.rhythm_standing(diagnosis.rhythm, events, rejected)
    # the decisions that change what the Bundle says: any on a VF/VFL or asystole episode (its alarm), a rejection
    # of another kind (it leaves the counts)
    episode_reviews = {
        key: review for key, review in decided.items() if key[0] in selectors.LIFE_THREATENING or key in rejected
    }
    mi_review = diagnosis.reviews.select_related("reviewer").order_by("-created_at", "-id").first()
    # A doctor's review changes the MI flag's interpretation, the episodes' counts and the conclusion: the
    # report is then "amended", issued when the latest review was made, and so are the Observations it changed.
    reviewed_at = [r.created_at for r in episode_reviews.values()] + ([mi_review.created_at] if mi_review else [])
    # A doctor's signed interpretation makes it a signed report: amended too, and issued when signed if that is later.
    interpretation = selectors.interpretation_current(recording=recording)
    if interpretation is not None:
        reviewed_at.append(interpretation.created_at)
    # The patient's diary: a symptom entered or removed after the results were made changes the report too.
    diary_entries = list(selectors.diary_list(recording=recording, removed=True))
    reviewed_at += [
        when
        for entry in diary_entries
        for when in (entry.created_at, entry.removed_at)
        if when is not None and when > diagnosis.created_at
    ]
    # Its sleep periods too, where the Bundle carries the heart rate awake and asleep (a per-minute trend); and while
    # it does, a doctor's decision on any rhythm event, which the figures count asleep and awake (a rejected one
    # left out).
    activities = list(selectors.activity_list(recording=recording, removed=True))
    standing = [activity for activity in activities if activity.removed_at is None]
    sleep_figures, sleep_conclusion = _sleep_observations(
        recording, standing, diagnosis.rhythm, subject=patient_ref, effective=effective
    )
    if diary.has_trend(recording, diagnosis.rhythm):
        reviewed_at += [
            when
            for activity in activities
            if activity.kind == DiaryActivity.Kind.SLEEP
            for when in (activity.created_at, activity.removed_at)
            if when is not None and when > diagnosis.created_at
        ]
    if sleep_figures:
        reviewed_at += EventReview.objects.filter(
            event__recording=recording, created_at__gt=diagnosis.created_at
        ).values_list("created_at", flat=True)
    # A doctor's correction of beat classes, or its undoing, after the results: the counts changed (and the rhythm is
    # recomputed over them, below).
    corrected_at = [
        when
        for made, undone in recording.beat_corrections.values_list("created_at", "undone_at")
        for when in (made, undone)
        if when is not None and when > diagnosis.created_at
    ]
    reviewed_at += corrected_at
    # ... and the rhythm recomputed by a newer version of its analysis (`manage.py recompute_rhythm`) where that changed
    # its figures or events: the report a receiver filed is amended as after a correction's recomputation.
    reviewed_at += [
        when
        for when in recording.rhythm_recomputations.filter(
            outcome="changed", finished_at__gt=diagnosis.created_at
        ).values_list("finished_at", flat=True)
        if when is not None
    ]
    # ... and where they changed the MI screen's beats, its score and flag (diagnostics.corrections)
    mi_amended = bool(corrections.mi_screen_changed_at(diagnosis))
    amended = bool(reviewed_at)
    # While the worker recomputes the rhythm over corrected classes, or could not, the rhythm figures are not those of
    # the beats as they are: the Observations made from them, and the report, are "preliminary" until they are.
    rhythm_pending = diagnosis.rhythm_status in ("recomputing", "failed")
    from_rhythm: list[dict] = []
    # Moved to the right patient after its results were made: the report sent before named another patient, so
    # it and its Observations are "corrected" (FHIR's amendment that corrects an error), issued when last moved.
    moved_at = list(recording.moves.filter(created_at__gt=diagnosis.created_at).values_list("created_at", flat=True))
    issued = max(reviewed_at + moved_at, default=diagnosis.created_at).isoformat()
    observations: list[dict] = []
    for aami, count, percent in diagnosis.class_counts():
        observations.append(
            _observation(
                subject=patient_ref,
                effective=effective,
                category="procedure",
                code={
                    "coding": [_coding(LOCAL, f"beat-count-{aami}", f"Beats of AAMI class {aami}")],
                    "text": f"Beats classified {aami} ({AAMI_NAMES[aami]})",
                },
                status="amended" if corrected_at else "final",
                valueQuantity={"value": count, "unit": "beats", "system": UCUM, "code": "{beats}"},
                component=[
                    {
                        "code": {
                            "coding": [_coding(LOCAL, f"beat-percent-{aami}")],
                            "text": f"Share of beats classified {aami}",
                        },
                        "valueQuantity": {"value": round(percent, 3), "unit": "%", "system": UCUM, "code": "%"},
                    }
                ],
            )
        )
    observations.append(
        _observation(
            subject=patient_ref,
            effective=effective,
            code={"coding": [_coding(LOCAL, "mi-screen", "MI screen status")], "text": "Myocardial infarction screen"},
            status="amended" if mi_amended else "final",
            valueCodeableConcept={
                "coding": [_coding(LOCAL, diagnosis.mi_status, diagnosis.get_mi_status_display())],
                "text": diagnosis.get_mi_status_display(),
            },
            component=[
                {
                    "code": {"coding": [_coding(LOCAL, "mi-screen-beats", "Beats scored")]},
                    "valueInteger": diagnosis.mi_beats_used,
                },
                *(
                    [{"code": {"coding": [_coding(LOCAL, "mi-screen-lead", "Lead")]}, "valueString": diagnosis.mi_lead}]
                    if diagnosis.mi_lead
                    else []
                ),
            ],
        )
        | _note(diagnosis.mi_reason)
    )
    if diagnosis.mi_screened and diagnosis.mi_score is not None:  # no MI score or flag where the screen did not speak
        observations.append(
            _observation(
                subject=patient_ref,
                effective=effective,
                code={
                    "coding": [_coding(LOCAL, "mi-score", "MI score")],
                    "text": f"Myocardial infarction score ({diagnosis.mi_beats_used} beats scored)",
                },
                status="amended" if mi_amended else "final",
                valueQuantity={
                    "value": round(diagnosis.mi_score, 6),
                    "unit": "probability",
                    "system": UCUM,
                    "code": "1",
                },
                referenceRange=[
                    {
                        "high": {"value": diagnosis.mi_threshold, "system": UCUM, "code": "1"},
                        "text": "flagged at or above the threshold",
                    }
                ],
                # the score against its threshold (H: at or above it), whatever a doctor decided on the flag
                interpretation=[
                    {
                        "coding": [
                            _coding(
                                INTERPRETATION,
                                "H"
                                if diagnosis.mi_threshold is not None and diagnosis.mi_score >= diagnosis.mi_threshold
                                else "N",
                            )
                        ]
                    }
                ],
            )
        )
        observations.append(
            _observation(
                subject=patient_ref,
                effective=effective,
                code={
                    "coding": [_coding(LOCAL, "mi-flag", "MI flag")],
                    "text": "Flagged for myocardial infarction review",
                },
                status="amended" if mi_review is not None or mi_amended else "final",
                valueBoolean=bool(diagnosis.mi_flag),
                interpretation=[{"coding": [_coding(INTERPRETATION, _mi_flag_interpretation(diagnosis, mi_review))]}],
                **_mi_review_parts(mi_review, here),
            )
        )
    if diagnosis.heart_rate_bpm is not None:
        from_rhythm.append(
            _observation(
                subject=patient_ref,
                effective=effective,
                category="vital-signs",
                code={
                    "coding": [_coding(LOINC, "8867-4", "Heart rate"), _coding(MDC, *HEART_RATE)],
                    "text": "Mean heart rate",
                },
                valueQuantity={
                    "value": round(diagnosis.heart_rate_bpm, 1),
                    "unit": "beats/minute",
                    "system": UCUM,
                    "code": "/min",
                },
            )
        )
    from_rhythm += _rhythm_observations(
        rhythm,
        subject=patient_ref,
        effective=effective,
        fs=recording.sampling_rate,
        reviewed={episode_type for episode_type, _start, _end in episode_reviews},
        origin=recording.recorded_at,
    )
    observations += from_rhythm
    waveform = _waveform(
        recording=recording,
        signal=signal,
        beats=beats,
        subject=patient_ref,
        # the first sample's time: the SampledData's origin
        effective={"effectiveDateTime": start} if start is not None else effective,
        input_fs=diagnosis.heartbeat_model.input_fs,
        unreadable=unreadable,
    )
    if waveform is not None:
        observations.append(waveform)

    # each by its own code, as the diary's by entry and the sleep sides' by side: by place in the list, an Observation
    # that left the report (the MI score, after a correction left the screen not assessable) gave its id to the next
    observation_refs = [
        _urn("observation", diagnosis.pk, observation["code"]["coding"][0]["code"], namespace=here)
        for observation in observations
    ]
    noted = [entry for entry in diary_entries if entry.removed_at is None]
    symptoms, diary_conclusion = _diary_observations(
        recording, noted, diagnosis.rhythm, subject=patient_ref, effective=effective
    )
    # each its own id, by the entry's: an entry removed leaves the others' ids as they were
    observation_refs += [_urn("diary", entry.pk, namespace=here) for entry in noted]
    observations += symptoms
    from_rhythm += symptoms  # each with the rhythm at its moment
    # by the result and the side: a sleep period entered or removed changes their values, not their ids
    observation_refs += [_urn("sleep", diagnosis.pk, side, namespace=here) for side, _ in sleep_figures]
    observations += [observation for _, observation in sleep_figures]
    from_rhythm += [observation for _, observation in sleep_figures]
    if rhythm_pending:
        for observation in from_rhythm:
            observation["status"] = "preliminary"
    counts = ", ".join(f"{c} {getattr(diagnosis, f'count_{c.lower()}')}" for c in AAMI_CLASSES)
    report = {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": f"urn:ecg-analyzer:{here}:recording", "value": str(recording.pk)}],
        "status": "preliminary" if rhythm_pending else "amended" if amended else "final",
        "category": [
            {
                "coding": [
                    _coding(
                        "http://terminology.hl7.org/CodeSystem/v2-0074", "EC", "Electrocardiac (e.g., EKG, EEC, Holter)"
                    )
                ]
            }
        ],
        "code": {
            "coding": [_coding(LOINC, "11524-6", "EKG study")],
            "text": "ECG heartbeat classification and MI screening",
        },
        "subject": {"reference": patient_ref},
        **effective,
        "issued": issued,
        "result": [{"reference": ref} for ref in observation_refs],
        "conclusion": (
            f"{_interpretation_conclusion(interpretation)}"
            f"{_rhythm_conclusion(rhythm, recording.sampling_rate)}"
            f"{diary_conclusion}"
            f"{sleep_conclusion}"
            f"{_corrections_conclusion(diagnosis)}"
            f"{_unreadable_conclusion(unreadable)}"
            f"{diagnosis.beat_count} beats: {counts}. {_mi_conclusion(diagnosis, mi_review)} "
            f"Models: heartbeat {diagnosis.heartbeat_model.version}, MI {diagnosis.mi_model.version}."
        ),
    }
    entries = [
        {"fullUrl": patient_ref, "resource": patient_resource},
        {"fullUrl": _urn("report", diagnosis.pk, namespace=here), "resource": report},
    ]
    # the doctors named: who signed the interpretation, who decided on the MI flag (each once)
    practitioners = {}
    if interpretation is not None:
        interpreter_ref = _urn("practitioner", interpretation.author_id, namespace=here)
        report["resultsInterpreter"] = [{"reference": interpreter_ref, "display": interpretation.author.display_name}]
        practitioners[interpreter_ref] = interpretation.author
    if mi_review is not None and diagnosis.mi_screened and diagnosis.mi_score is not None:
        practitioners.setdefault(_urn("practitioner", mi_review.reviewer_id, namespace=here), mi_review.reviewer)
    entries += [{"fullUrl": ref, "resource": _practitioner(user, here)} for ref, user in practitioners.items()]
    if moved_at:
        for resource in [report, *observations]:
            if resource["status"] != "preliminary":  # still to come, whoever's it is
                resource["status"] = "corrected"
    entries += [{"fullUrl": ref, "resource": obs} for ref, obs in zip(observation_refs, observations)]
    entries += _withdrawn(
        recording,
        diagnosis,
        carried={observation["code"]["coding"][0]["code"] for observation in observations},
        diary_entries=diary_entries,
        activities=activities if not sleep_figures and diary.has_trend(recording, diagnosis.rhythm) else [],
        subject=patient_ref,
        effective=effective,
        here=here,
    )
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": issued,
        "entry": entries,
    }


# The effective[x] of a resource about a recording whose start is not known: no time, and FHIR's reason for it (the
# upload's time had been given, a time the recording was not made at)
UNKNOWN_EFFECTIVE = {
    "_effectiveDateTime": {
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]
    }
}


# The figures that can leave the results (Diagnosis.FIGURES_THAT_CAN_LEAVE) by their code: their category and code,
# as the Observation that carried them had them.
FIGURE_CODES = {
    "mi-score": (
        "procedure",
        {"coding": [_coding(LOCAL, "mi-score", "MI score")], "text": "Myocardial infarction score"},
    ),
    "mi-flag": (
        "procedure",
        {"coding": [_coding(LOCAL, "mi-flag", "MI flag")], "text": "Flagged for myocardial infarction review"},
    ),
    "8867-4": (
        "vital-signs",
        {"coding": [_coding(LOINC, "8867-4", "Heart rate"), _coding(MDC, *HEART_RATE)], "text": "Mean heart rate"},
    ),
    **{
        f"heart-rate-{key}": (
            "procedure",
            {"coding": [_coding(LOCAL, f"heart-rate-{key}", text)], "text": text},
        )
        for key, text in (("min", "Minimum heart rate (8 beats)"), ("max", "Maximum heart rate (8 beats)"))
    },
}


def _withdrawn(
    recording: ECGRecording,
    diagnosis: Diagnosis,
    *,
    carried: set[str],
    diary_entries: list[DiaryEntry],
    activities: list[DiaryActivity],
    subject: str,
    effective: dict,
    here: str,
) -> list[dict]:
    """The Bundle's entries of the Observations an earlier Bundle of the recording carried and this one does not, each
    under the id it had, "entered-in-error" and without a value: a receiver that stored it retracts it (left out, it
    would keep a stale result). They are not results of the report. What was carried is known from what the database
    keeps: the figures that can leave the results which they carried before a doctor's correction or a recomputation
    (Diagnosis.figures_once) and the report no longer carries (``carried``: the codes of its Observations), the diary
    entries removed (``diary_entries``, removed ones among them), and the heart rate awake and asleep where no sleep
    period stands (``activities``: the recording's, removed ones among them, where it has the per-minute trend the
    figures are made from and the report carries none; else empty)."""
    out = []

    def entry(ref: str, category: str, code: dict, why: str) -> None:
        resource = _observation(
            subject=subject, effective=effective, code=code, category=category, status="entered-in-error"
        )
        resource["note"] = [{"text": why}]
        out.append({"fullUrl": ref, "resource": resource})

    for code in Diagnosis.FIGURES_THAT_CAN_LEAVE:
        if code in (diagnosis.figures_once or ()) and code not in carried:
            category, concept = FIGURE_CODES[code]
            entry(
                _urn("observation", diagnosis.pk, code, namespace=here),
                category,
                concept,
                "Withdrawn: the results no longer carry it since a doctor's correction of beat classes "
                "(the MI screen not assessable, or the rhythm recomputed without it).",
            )
    for noted in diary_entries:
        if noted.removed_at is not None:
            entry(
                _urn("diary", noted.pk, namespace=here),
                "survey",
                {"coding": [_coding(LOINC, *SYMPTOM)], "text": "Symptom noted in the patient's diary"},
                "Withdrawn: removed from the patient's diary as entered by mistake.",
            )
    if any(a.kind == DiaryActivity.Kind.SLEEP and a.removed_at is not None for a in activities):
        for side, text in SLEEP_SIDES:
            entry(
                _urn("sleep", diagnosis.pk, side, namespace=here),
                "procedure",
                {"coding": [_coding(LOCAL, f"heart-rate-{side}", text)], "text": f"{text} (mean)"},
                "Withdrawn: no sleep period of the patient's diary stands (those entered were removed).",
            )
    return out


def _effective(recording: ECGRecording) -> tuple[str | None, dict]:
    """When the results are about: the recording's start, and the effective[x] of the DiagnosticReport
    and of the Observations that summarise the recording.

    The start is when the recording started, as its file states it; the effective[x] is then a period
    over the recording, when its length is known. For a file that does not say, the start is None and the
    effective[x] says it is unknown (``UNKNOWN_EFFECTIVE``); ``issued`` still says when the results were made.
    The waveform's Observation takes the start alone (its SampledData's origin).
    """
    if recording.recorded_at is None:
        return None, dict(UNKNOWN_EFFECTIVE)
    start = timezone.localtime(recording.recorded_at).isoformat()
    if not recording.sample_count:
        return start, {"effectiveDateTime": start}
    whole = _window_effective(
        recording.recorded_at, {"start": 0, "end": recording.sample_count}, recording.sampling_rate
    )
    return start, whole or {"effectiveDateTime": start}


def _practitioner(user, here: str) -> dict:
    """A doctor the report names (who signed the interpretation, who decided on the MI flag): their name, and their
    user id in a system of this installation."""
    name: dict = {"text": user.display_name}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = [user.first_name]
    return {
        "resourceType": "Practitioner",
        "identifier": [{"system": f"urn:ecg-analyzer:{here}:user", "value": str(user.pk)}],
        "name": [name],
    }


def _unreadable_conclusion(unreadable: str | None) -> str:
    if unreadable is None:
        return ""
    return f"The ECG waveform is not included: the stored signal could not be read ({unreadable}). "


def _corrections_conclusion(diagnosis: Diagnosis) -> str:
    """The report conclusion's sentence on a doctor's corrections of beat classes and the rhythm recomputed over
    them ("" for none)."""
    n = diagnosis.beats_corrected
    whose = "1 beat's class" if n == 1 else f"{n} beats' classes"
    out = f"{whose} corrected by a doctor. " if n else ""
    if diagnosis.rhythm_status == "recomputing":
        out += "The rhythm figures are being recomputed over the corrected beat classes: preliminary until they are. "
    elif diagnosis.rhythm_status == "failed":
        out += (
            "The rhythm figures predate the correction of beat classes: recomputing them failed "
            f"({diagnosis.rhythm_recompute_error.rstrip('.')}). "
        )
    return out


def _interpretation_conclusion(interpretation: Interpretation | None) -> str:
    """The doctor's signed interpretation, leading the report's conclusion before the automatic analysis."""
    if interpretation is None:
        return ""
    signed = timezone.localtime(interpretation.created_at).date().isoformat()
    n = interpretation.undecided_at_signing
    undecided = f" (signed with {n} VF/VFL or asystole episode{'s' if n != 1 else ''} undecided)" if n else ""
    return f"Interpretation by {interpretation.author.display_name}, {signed}{undecided}: {interpretation.text} "


def _reviewed_by(review: Review) -> str:
    # the date in the site's zone, as the interpretation's beside it (in UTC the two could disagree near midnight)
    return f"{review.outcome}, by {review.reviewer.display_name} on {timezone.localtime(review.created_at).date().isoformat()}"


def _mi_flag_interpretation(diagnosis: Diagnosis, review: Review | None) -> str:
    """The MI flag's interpretation code: abnormal (A) while the model's flag stands, normal (N) when it
    did not flag or when the latest review by a doctor rejected it. The value stays the model's flag and
    the review is in the component and note; a receiving system that alerts on the interpretation must
    not raise an MI a doctor has dismissed, as for rejected VF/VFL and asystole episodes."""
    if not diagnosis.mi_flag:
        return "N"
    return "N" if review is not None and review.decision == Review.Decision.REJECT else "A"


def _mi_review_parts(review: Review | None, here: str) -> dict:
    """The MI flag's latest review by a doctor: a component with the decision, the note, and the doctor as its
    performer (who stands behind the flag's interpretation now: a Practitioner of the Bundle)."""
    if review is None:
        return {}
    text = f"Reviewed: {_reviewed_by(review)}" + (f". {review.note}" if review.note else "")
    return {
        "performer": [
            {
                "reference": _urn("practitioner", review.reviewer_id, namespace=here),
                "display": review.reviewer.display_name,
            }
        ],
        "component": [
            {
                "code": {"coding": [_coding(LOCAL, "mi-review", "MI review")], "text": "Doctor's review"},
                "valueCodeableConcept": {
                    "coding": [_coding(LOCAL, f"mi-review-{review.decision}", review.outcome)],
                    "text": review.outcome,
                },
            }
        ],
        "note": [{"text": text}],
    }


def _mi_conclusion(diagnosis: Diagnosis, review: Review | None = None) -> str:
    if not diagnosis.mi_screened or diagnosis.mi_score is None:
        return f"MI screen {diagnosis.get_mi_status_display().lower()}: {diagnosis.mi_reason}."
    verdict = "flagged for review" if diagnosis.mi_flag else "not flagged"
    reviewed = f" Doctor's review: {_reviewed_by(review)}." if review is not None else ""
    return f"MI score {diagnosis.mi_score:.3f} (threshold {diagnosis.mi_threshold:.3f}): {verdict}.{reviewed}"


def _note(text: str) -> dict[str, list[dict[str, str]]]:
    """A resource's ``note`` (FHIR allows no empty list)."""
    return {"note": [{"text": text}]} if text else {}


# The FHIR IssueType of an error answer, by HTTP status (anything else: "exception").
ISSUE_TYPES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    406: "not-supported",
    409: "conflict",
    429: "throttled",
}


def operation_outcome(*, status_code: int, code: str, message: str) -> dict:
    """An error answer as FHIR clients read it: the project's error (``code``, ``message``) as an
    OperationOutcome's one issue, the stable code in ``details.text``."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": ISSUE_TYPES.get(status_code, "exception"),
                "diagnostics": message,
                "details": {"text": code},
            }
        ],
    }
