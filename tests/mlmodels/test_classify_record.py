import json

import numpy as np
import pytest
import wfdb
from django.core.management import CommandError, call_command

from ..data import cudb_vf_episode, mitdb_dir, ptbdb_dir, svdb_dir


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("classify_record", *args, stdout=out)
    return out.getvalue()


def run_json(target: str, models) -> dict:
    """``classify_record --format json`` with the tiny beat-format and MI models of ``models``."""
    heartbeat, mi = str(models / "heartbeat.keras"), str(models / "mi-high.keras")
    return json.loads(run(target, "--format", "json", "--heartbeat-model", heartbeat, "--mi-model", mi))


@pytest.mark.django_db
def test_it_classifies_a_mitbih_record_as_json(tiny_model_dir):
    record = str(mitdb_dir() / "119")
    result = run_json(record, tiny_model_dir)
    assert result["fs"] == 360.0
    beats = result["beats"]
    ann = wfdb.rdann(record, "atr")
    reference = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym in set("NLRejAaJSVEF/fQ")])
    samples = np.array([b["sample"] for b in beats])
    assert len(samples) >= 0.99 * (len(reference) - 1)
    matched = np.array([np.min(np.abs(reference - s)) <= 54 for s in samples])
    assert matched.mean() > 0.99
    first = beats[0]
    assert first["aami_class"] in "NSVFQ" and set(first["probabilities"]) == set("NSVFQ")
    assert sum(first["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    summary = result["summary"]
    assert sum(summary["counts"].values()) == len(beats)
    assert 60 < summary["mean_heart_rate_bpm"] < 80
    # MLII of an ambulatory record is not a lead the MI screen is valid for (bench/mi_applicability.py).
    assert summary["mi_screen"] == {
        "status": "not_applicable",
        "reason": summary["mi_screen"]["reason"],
        "lead": None,
        "beats_used": 0,
        "score": None,
        "threshold": None,
        "flag": False,
    }
    assert "lead II" in summary["mi_screen"]["reason"] and "MLII" in summary["mi_screen"]["reason"]
    assert summary["mi_score"] is None
    assert first["mi_probability"] is None and not any(b["mi_scored"] for b in beats)


@pytest.mark.django_db
def test_a_12_lead_record_is_screened_in_lead_ii_with_the_contract(tiny_model_dir):
    record = str(ptbdb_dir() / "patient001" / "s0010_re")
    args = ("--format", "json", "--heartbeat-model", str(tiny_model_dir / "heartbeat.keras"))
    result = json.loads(run(record, *args, "--mi-model", str(tiny_model_dir / "mi-high.keras")))
    screen = result["summary"]["mi_screen"]
    assert set(screen) == {"status", "reason", "lead", "beats_used", "score", "threshold", "flag"}
    assert screen["lead"] == "ii" and screen["threshold"] == 0.5
    scored = [b for b in result["beats"] if b["mi_scored"]]
    assert len(scored) == screen["beats_used"]
    # patient001's beats are regular and alike: the screen speaks, over nearly all of them
    assert screen["status"] == "screened" and screen["flag"] and screen["score"] == pytest.approx(0.881, abs=1e-3)
    assert result["summary"]["mi_score"] == screen["score"] and len(scored) >= 0.9 * len(result["beats"])
    low = json.loads(run(record, *args, "--mi-model", str(tiny_model_dir / "mi-low.keras")))
    assert not low["summary"]["mi_screen"]["flag"]


@pytest.mark.django_db
def test_a_record_with_unnamed_leads_is_not_applicable(tiny_model_dir, tmp_path):
    values = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=7200).p_signal
    wfdb.wrsamp(
        "unnamed", fs=360, units=["mV", "mV"], sig_name=["ECG1", "ECG2"], p_signal=values, write_dir=str(tmp_path)
    )
    result = run_json(str(tmp_path / "unnamed"), tiny_model_dir)
    screen = result["summary"]["mi_screen"]
    assert screen["status"] == "not_applicable" and not screen["flag"] and screen["score"] is None
    assert "ECG1, ECG2" in screen["reason"]


@pytest.mark.django_db
def test_a_lead_ii_recorded_for_longer_than_a_resting_ecg_is_not_screened(tiny_model_dir, tmp_path):
    # a Holter or monitor lead labelled II had been screened as a resting 12-lead's lead II, over hours of
    # posture, activity and heart rate the model never saw
    values = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=int(360 * 301)).p_signal
    wfdb.wrsamp("long", fs=360, units=["mV", "mV"], sig_name=["II", "V5"], p_signal=values, write_dir=str(tmp_path))
    screen = run_json(str(tmp_path / "long"), tiny_model_dir)["summary"]["mi_screen"]
    assert screen["status"] == "not_applicable" and screen["lead"] is None and not screen["flag"]
    assert "resting ECGs" in screen["reason"] and "lasts 5 minutes" in screen["reason"]
    # the same lead for five minutes is a resting ECG's length: screened
    wfdb.wrsamp(
        "rest", fs=360, units=["mV", "mV"], sig_name=["II", "V5"], p_signal=values[: 360 * 300], write_dir=str(tmp_path)
    )
    assert run_json(str(tmp_path / "rest"), tiny_model_dir)["summary"]["mi_screen"]["lead"] == "II"


@pytest.mark.django_db
def test_it_prints_a_table_and_a_summary(tiny_model_dir, tmp_path):
    values = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=36000).p_signal[:, 0]
    csv = tmp_path / "ecg.csv"
    csv.write_text("\n".join(f"{v:.3f}" for v in values))
    text = run(str(csv), "--fs", "360", "--heartbeat-model", str(tiny_model_dir / "heartbeat.keras"))
    assert "beats in lead" in text and "Mean heart rate" in text and "P(MI)" in text


@pytest.mark.parametrize(
    "values, fs, message",
    [
        (np.zeros(5000), 360, "flat line"),
        (np.sin(np.arange(300)), 360, "at least 2.5 s"),
        (np.sin(np.arange(5000)), 40, "below the minimum"),
    ],
    ids=["flat", "short", "low-fs"],
)
@pytest.mark.django_db
def test_it_refuses_bad_signals(tiny_model_dir, tmp_path, values, fs, message):
    csv = tmp_path / "bad.csv"
    csv.write_text("\n".join(f"{v:.4f}" for v in values))
    with pytest.raises(CommandError, match=message):
        run(str(csv), "--fs", str(fs), "--heartbeat-model", str(tiny_model_dir / "heartbeat.keras"))


@pytest.mark.django_db
def test_a_csv_without_a_sampling_rate_is_refused(tmp_path):
    csv = tmp_path / "x.csv"
    csv.write_text("1\n2\n")
    with pytest.raises(CommandError, match="--fs"):
        run(str(csv))


def _resampled_record(tmp_path, record: str, fs: int) -> str:
    """MIT-BIH ``record`` written again as a WFDB record at ``fs`` Hz (both leads)."""
    from fractions import Fraction

    from scipy.signal import resample_poly

    rec = wfdb.rdrecord(str(mitdb_dir() / record))
    ratio = Fraction(fs, int(rec.fs))
    signal = resample_poly(rec.p_signal, ratio.numerator, ratio.denominator, axis=0)
    wfdb.wrsamp(
        record,
        fs=fs,
        units=rec.units,
        sig_name=rec.sig_name,
        p_signal=signal,
        fmt=["16"] * signal.shape[1],
        write_dir=str(tmp_path),
    )
    return str(tmp_path / record)


@pytest.mark.django_db
@pytest.mark.parametrize("fs", [360, 250, 500, 128])
def test_the_shipped_record_level_model_finds_the_ventricular_beats_at_any_rate(tmp_path, fs):
    # Record 119: 444 V beats among ~2,000, in both leads; the default model is the bundled record-level one.
    path = str(mitdb_dir() / "119") if fs == 360 else _resampled_record(tmp_path, "119", fs)
    result = json.loads(run(path, "--format", "json"))
    summary = result["summary"]
    assert result["fs"] == fs and summary["context"] == "record"
    assert summary["heartbeat_model"].startswith("heartbeat_record-")
    assert 1950 <= summary["beats"] <= 2030
    assert 400 <= summary["counts"]["V"] <= 470
    samples = [b["sample"] for b in result["beats"]]
    assert samples == sorted(samples) and samples[-1] < 650000 * fs / 360
    assert set(result["beats"][0]) == {"sample", "aami_class", "probabilities", "mi_probability", "mi_scored"}
    # The rhythm comes from the record-level model's beats and classes: 119's ventricular bigeminy.
    rhythm = summary["rhythm"]
    assert rhythm["vf"] == [] and sum(hour["beats"] for hour in rhythm["hourly"]) == summary["beats"]
    assert rhythm["ventricular"]["total"] == summary["counts"]["V"]
    assert "bigeminy" in {e["type"] for e in result["events"]}
    assert all(0 <= e["start"] <= e["end"] < 650000 * fs / 360 for e in result["events"])


@pytest.mark.django_db
def test_beats_in_atrial_flutter_are_not_called_s():
    """svdb 867: atrial flutter conducted 2:1 for eleven minutes, every beat N in the reference. The
    network still gives many of its beats S as the most probable class; the decision's flutter rule,
    fed by the analysed lead's waveform measures, reports them N (ecg.models.decision)."""
    result = json.loads(run(str(svdb_dir() / "867"), "--format", "json"))
    beats = result["beats"]
    most_probable = [max(b["probabilities"], key=b["probabilities"].get) for b in beats]
    turned = sum(1 for m, b in zip(most_probable, beats) if m == "S" and b["aami_class"] == "N")
    assert turned >= 100
    assert result["summary"]["counts"]["S"] < sum(m == "S" for m in most_probable)
    assert "afl" in {e["type"] for e in result["events"]}


@pytest.mark.django_db
def test_its_json_carries_rhythm_events_and_a_rhythm_summary(tiny_model_dir, tmp_path):
    from ecg.rhythm import EVENT_TYPES

    # The first 70 s of MIT-BIH 207 hold a 10-s run of ventricular flutter (samples 14689-18396).
    values = wfdb.rdrecord(str(mitdb_dir() / "207"), sampto=25200).p_signal[:, 0]
    csv = tmp_path / "207.csv"
    csv.write_text("\n".join(f"{v:.3f}" for v in values))
    result = json.loads(
        run(str(csv), "--fs", "360", "--format", "json", "--heartbeat-model", str(tiny_model_dir / "heartbeat.keras"))
    )
    assert set(result) == {"fs", "beats", "events", "summary"}
    events = result["events"]
    assert events and all(set(e) == {"type", "start", "end", "beats", "rate_bpm"} for e in events)
    assert all(e["type"] in EVENT_TYPES and 0 <= e["start"] <= e["end"] < len(values) for e in events)
    flutter = [e for e in events if e["type"] == "vf"]
    assert len(flutter) == 1 and flutter[0]["start"] < 18396 and flutter[0]["end"] > 14689
    assert flutter[0]["beats"] is None  # the detections inside are waves, not beats
    summary = result["summary"]
    assert {"lead", "beats", "counts", "percentages", "mean_heart_rate_bpm", "mi_score"} < set(summary)
    rhythm = summary["rhythm"]
    assert rhythm["vf"] == flutter
    assert {"heart_rate", "hrv", "ventricular", "supraventricular", "af", "pauses", "hourly"} <= set(rhythm)
    assert rhythm["heart_rate"]["hr_min"]["bpm"] <= rhythm["heart_rate"]["hr_max"]["bpm"]
    assert rhythm["af"]["burden_pct"] >= 0 and rhythm["hourly"][0]["beats"] > 50


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", [".dcm", ".xml"])
def test_it_classifies_a_twelve_lead_cart_file_counting_every_complete_beat(tiny_model_dir, tmp_path, suffix):
    from ecg.datasets.carts import aecg_twelve_lead, dicom_twelve_lead
    from ecg.io.readers import read_wfdb

    from ..data import DATA_DIR, require

    record = require(DATA_DIR / "ptbdb" / "patient001" / "s0010_re.hea", "PTB record patient001").with_suffix("")
    signal = read_wfdb(record)
    names = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    leads = {name: values[:10_000] for name, values in zip(names, list(signal.leads.values())[:12])}
    path = tmp_path / f"patient001{suffix}"
    path.write_bytes(dicom_twelve_lead(leads, 1000.0) if suffix == ".dcm" else aecg_twelve_lead(leads, 1000.0))
    result = json.loads(
        run(str(path), "--format", "json", "--heartbeat-model", str(tiny_model_dir / "heartbeat-record.keras"))
    )
    assert result["fs"] == 1000.0 and len(result["beats"]) == 13  # every beat with a complete QRS in 10 s
    assert 79 < result["summary"]["mean_heart_rate_bpm"] < 83


@pytest.mark.django_db
def test_heart_rate_figures_leave_out_ventricular_fibrillation(tiny_model_dir):
    # MIT-BIH 207 holds VF/VFL episodes, in which the R-peak detector finds (almost) no beats: counted
    # as R-R intervals they read as a rate of a few beats per minute and as bradycardia across them.
    result = json.loads(
        run(
            str(mitdb_dir() / "207"),
            "--format",
            "json",
            "--heartbeat-model",
            str(tiny_model_dir / "heartbeat-record.keras"),
        )
    )
    summary, events = result["summary"], result["events"]
    vf = [e for e in events if e["type"] == "vf"]
    assert len(vf) >= 3
    heart = summary["rhythm"]["heart_rate"]
    assert summary["mean_heart_rate_bpm"] == heart["mean_bpm"] and 60 < heart["mean_bpm"] < 80
    assert heart["hr_min"]["bpm"] > 35
    assert min(row["hr_min"] for row in summary["rhythm"]["hourly"]) > 30
    for e in events:
        if e["type"] in ("brady", "pause", "asystole"):
            assert not any(e["start"] <= v["end"] and v["start"] <= e["end"] for v in vf), e


@pytest.mark.django_db
def test_stretches_too_noisy_to_read_are_reported_and_hold_no_rhythm_event():
    """nstdb 118e_6: MIT-BIH 118 with electrode-motion noise at -6 dB in 2-minute stretches from 5:00.
    The noise reads as beats, and their classes and intervals as VT, AF and pauses; the stretches too
    noisy to read are listed in the summary and no beat-based event starts in one (ecg.rhythm.noise)."""
    from ..data import DATA_DIR, require

    result = json.loads(
        run(str(require(DATA_DIR / "nstdb", "MIT-BIH Noise Stress Test Database") / "118e_6"), "--format", "json")
    )
    rhythm = result["summary"]["rhythm"]
    noise = [(s["start"], s["end"]) for s in rhythm["noise"]]
    assert rhythm["noise_s"] > 240 and all(360 * 300 <= s for s, _ in noise)  # none in the clean first 5 minutes
    for event in result["events"]:
        if event["type"] != "vf":  # VF/VFL is still looked for in noise
            assert not any(s <= event["start"] <= e for s, e in noise), event
    assert rhythm["beats_left_out"] > 0
    assert sum(hour["beats"] for hour in rhythm["hourly"]) == rhythm["beats_analysed"]


@pytest.mark.parametrize("model", ["heartbeat.keras", "heartbeat-record.keras"])
@pytest.mark.django_db
def test_a_strip_in_ventricular_fibrillation_is_reported_as_vf_with_no_beats(tiny_model_dir, tmp_path, model):
    # a defibrillator's export of VF: no heartbeat to cut, and VF/VFL to report, by either model path
    values, fs = cudb_vf_episode("cu05")
    csv = tmp_path / "vf.csv"
    csv.write_text("\n".join(f"{v:.3f}" for v in values))
    out = run(str(csv), "--fs", f"{fs:g}", "--format", "json", "--heartbeat-model", str(tiny_model_dir / model))
    result = json.loads(out)
    summary = result["summary"]
    assert result["beats"] == [] and summary["beats"] == 0 and set(summary["counts"].values()) == {0}
    assert set(summary["percentages"].values()) == {0.0} and summary["mean_heart_rate_bpm"] is None
    assert summary["mi_screen"]["status"] == "not_assessable" and "beat" in summary["mi_screen"]["reason"]
    first = result["events"][0]
    assert first["type"] == "vf" and first["end"] - first["start"] >= 0.8 * len(values)
    text = run(str(csv), "--fs", f"{fs:g}", "--heartbeat-model", str(tiny_model_dir / model))
    assert "0 beats" in text and "vf" in text


@pytest.mark.django_db
@pytest.mark.parametrize("record_level", [False, True], ids=["beat-format", "record-level"])
def test_the_command_and_the_worker_give_one_analysis_of_a_recording(
    tiny_model_dir, tmp_path, staff_a, patient_a, active_models, record_level
):
    """The same 70 s of MIT-BIH 207 (its ventricular flutter) through ``classify_record --format json`` and through the
    upload and the worker's service: the same beats and classes, events and Holter summary (the stored one carries
    the per-minute trend beside it, for the pages)."""
    from diagnostics import services
    from diagnostics.signal_uploads import parse_signal_upload

    from ..conftest import model_version_from

    model = "heartbeat-record.keras" if record_level else "heartbeat.keras"
    if record_level:
        model_version_from(tiny_model_dir / model, task="heartbeat_record", version="tiny-record")
    values = wfdb.rdrecord(str(mitdb_dir() / "207"), sampto=25200).p_signal[:, 0]
    data = "\n".join(f"{v:.3f}" for v in values)
    (tmp_path / "207.csv").write_text(data)
    command = json.loads(
        run(
            str(tmp_path / "207.csv"),
            "--fs",
            "360",
            "--format",
            "json",
            "--heartbeat-model",
            str(tiny_model_dir / model),
        )
    )
    parsed, stored, filename = parse_signal_upload({"ecg.csv": data.encode()}, fs=360.0, lead=None)
    recording = services.recording_submit(
        user=staff_a, patient=patient_a, parsed=parsed, data=stored, filename=filename
    )
    services.recording_classify(recording_id=recording.pk, claim_token="t")
    recording.refresh_from_db()
    assert recording.status == "done", recording.error_message
    beats = list(recording.beats.order_by("index").values_list("position", "aami_class"))
    assert beats == [(b["sample"], b["aami_class"]) for b in command["beats"]]
    events = [(e.type, e.start, e.end, e.beats) for e in recording.events.order_by("start", "id")]
    assert events == [(e["type"], e["start"], e["end"], e["beats"]) for e in command["events"]]
    stored_rhythm = {k: v for k, v in recording.diagnosis.rhythm.items() if k != "trend"}
    assert stored_rhythm == command["summary"]["rhythm"]
    assert recording.diagnosis.heart_rate_bpm == command["summary"]["mean_heart_rate_bpm"]
