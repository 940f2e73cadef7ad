"""Rhythm events: computed by the worker with the beats, served per recording, in FHIR and the CSV export."""

import csv
import io
import json

import numpy as np
import pytest
import wfdb
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from diagnostics import services
from diagnostics.exports import EVENT_COLUMNS
from diagnostics.models import ECGRecording, Event
from ecg.clock import seconds_cut
from ecgsite.errors import NotAllowed

from ..conftest import client_for
from ..data import mitdb_dir
from .test_fhir import by_code, fetch_valid_bundle, resources

pytestmark = pytest.mark.django_db
# The first 70 s of MIT-BIH 207: sinus / bundle branch block beats and a 10-s run of ventricular flutter.
FLUTTER = (14689, 18396)


def classified_upload(api, patient, values) -> ECGRecording:
    """A 360-Hz signal uploaded through the API and classified by the worker's service."""
    created = api.post(
        "/api/v1/recordings",
        {"patient": patient.pk, "kind": "signal", "fs": 360, "signal": [round(float(v), 3) for v in values]},
        format="json",
    )
    assert created.status_code == 201, created.content[:300]
    recording = ECGRecording.objects.get(pk=created.json()["id"])
    assert services.recording_classify(recording_id=recording.pk, claim_token="t") == "done"
    recording.refresh_from_db()
    return recording


@pytest.fixture
def rhythm_recording(api_as, staff_a, patient_a, active_models):
    return classified_upload(
        api_as(staff_a), patient_a, wfdb.rdrecord(str(mitdb_dir() / "207"), sampto=25200).p_signal[:, 0]
    )


def _left_out(recording, rhythm) -> int:
    """Detections inside the VF/VFL episodes or the stretches too noisy to read."""
    spans = [(e["start"], e["end"]) for e in rhythm["vf"]] + [(s["start"], s["end"]) for s in rhythm["noise"]]
    return sum(recording.beats.filter(position__gte=s, position__lte=e).count() for s, e in spans)


def test_the_worker_stores_events_and_the_rhythm_summary_with_the_beats(rhythm_recording):
    events = list(rhythm_recording.events.all())
    assert events and all(e.clinic_id == rhythm_recording.clinic_id for e in events)
    flutter = [e for e in events if e.type == "vf"]
    assert len(flutter) == 1 and flutter[0].start < FLUTTER[1] and flutter[0].end > FLUTTER[0]
    rhythm = rhythm_recording.diagnosis.rhythm
    assert rhythm["vf"][0]["start"] == flutter[0].start
    assert len(rhythm["trend"]["hr_mean"]) == 2  # 70 s: two minutes of trend
    assert rhythm["hourly"][0]["beats"] == rhythm_recording.beats.count() - _left_out(rhythm_recording, rhythm)
    # the flutter's 10 s are no R-R interval: the recording's rate and the slowest 8 beats leave them out
    assert rhythm_recording.diagnosis.heart_rate_bpm == rhythm["heart_rate"]["mean_bpm"]
    assert rhythm["heart_rate"]["hr_min"]["bpm"] > 50


def test_a_beat_file_has_no_events_and_no_rhythm(api_as, staff_a, done_recording):
    body = api_as(staff_a).get(f"/api/v1/recordings/{done_recording.pk}").json()
    assert body["diagnosis"]["rhythm"] is None
    assert api_as(staff_a).get(body["links"]["events"]).json()["count"] == 0


def test_the_events_endpoint_lists_filters_and_pages(api_as, staff_a, rhythm_recording):
    api = api_as(staff_a)
    url = f"/api/v1/recordings/{rhythm_recording.pk}/events"
    everything = api.get(url).json()
    assert everything["count"] == rhythm_recording.events.count()
    first = everything["results"][0]
    assert set(first) == {"id", "type", "start", "end", "duration_s", "beats", "rate_bpm", "latest_review"}
    assert [e["start"] for e in everything["results"]] == sorted(e["start"] for e in everything["results"])
    only_vf = api.get(url, {"type": "vf"}).json()
    assert only_vf["count"] == 1 and only_vf["results"][0]["duration_s"] > 5
    assert api.get(url, {"type": "VF,Pause"}).json()["results"] == [  # either case, as ?aami_class=
        e for e in everything["results"] if e["type"] in ("vf", "pause")
    ]
    assert api.get(url, {"page_size": 1}).json()["results"] == everything["results"][:1]
    refused = api.get(url, {"type": "torsades"})
    assert refused.status_code == 400 and "torsades" in refused.json()["error"]["message"]
    reads = AuditEvent.objects.filter(action="view", object_type="recording", object_id=str(rhythm_recording.pk))
    assert reads.filter(path=url).count() == 4  # every list served, not the refused one


def test_the_events_endpoint_costs_a_constant_number_of_queries(
    api_as, staff_a, doctor_a, rhythm_recording, django_assert_max_num_queries
):
    for event in rhythm_recording.events.all():
        services.event_review_create(user=doctor_a, event=event, decision="confirm")
    api = api_as(staff_a)
    with django_assert_max_num_queries(8):
        body = api.get(f"/api/v1/recordings/{rhythm_recording.pk}/events").json()
    assert all(e["latest_review"]["decision"] == "confirm" for e in body["results"])


def test_another_clinic_gets_404_for_the_events(api_as, doctor_b, rhythm_recording):
    response = api_as(doctor_b).get(f"/api/v1/recordings/{rhythm_recording.pk}/events")
    assert response.status_code == 404


def test_the_recording_resource_carries_the_rhythm_summary(api_as, staff_a, rhythm_recording):
    body = api_as(staff_a).get(f"/api/v1/recordings/{rhythm_recording.pk}").json()
    rhythm = body["diagnosis"]["rhythm"]
    assert {"heart_rate", "hrv", "ventricular", "supraventricular", "af", "pauses", "vf", "hourly"} <= set(rhythm)
    assert "trend" not in rhythm
    assert body["links"]["events"] == f"http://testserver/api/v1/recordings/{rhythm_recording.pk}/events"
    export = api_as(staff_a).get(body["links"]["export"])  # each part it links to is there
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")


def test_the_rhythm_summary_is_the_shape_the_schema_documents(api_as, staff_a, client, rhythm_recording):
    """An integration generates its models from the schema: the summary served has no key the schema does not
    name, none of the type it gives, and every key it requires (it had been an untyped object)."""
    from ..helpers import strict_validator

    openapi = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    rhythm_schema = openapi["components"]["schemas"]["Diagnosis"]["properties"]["rhythm"]
    assert {"$ref": "#/components/schemas/RhythmSummary"} in rhythm_schema["oneOf"]
    validator = strict_validator(openapi, "RhythmSummary")
    served = api_as(staff_a).get(f"/api/v1/recordings/{rhythm_recording.pk}").json()["diagnosis"]["rhythm"]
    assert served["vf"] and served["heart_rate"]["hr_max"] and served["hourly"]  # parts with nested objects
    validator.validate(served)  # raises naming the first difference
    stored = dict(rhythm_recording.diagnosis.rhythm)
    stored.pop("trend")
    # what is served is what was stored, less its trend, and with no event rejected on review to leave out
    assert served == stored | {"rejected": {}}
    broken = served | {"heart_rate": served["heart_rate"] | {"hr_max": {"bpm": "fast"}}}
    assert not validator.is_valid(broken) and not validator.is_valid(served | {"unknown": 1})
    # and a summary with more parts filled: MIT-BIH 203's first 10 minutes (AF, V runs and couplets) by
    # its reference beats, as the rhythm analysis writes it for the worker
    from ecg.constants import SYMBOL_TO_AAMI
    from ecg.datasets.mitdb import read_record
    from ecg.rhythm.analysis import analyse_rhythm

    signal, fs, _lead, samples, symbols = read_record(mitdb_dir(), "203")
    end = int(600 * fs)
    beats = [(p, SYMBOL_TO_AAMI[s]) for p, s in zip(samples, symbols) if s in SYMBOL_TO_AAMI and p < end]
    summary = analyse_rhythm(
        signal=signal[:end], fs=fs, r_peaks=np.array([p for p, _ in beats]), classes=np.array([c for _, c in beats])
    ).summary
    filled = json.loads(json.dumps(summary))
    assert filled["af"]["episodes"] and filled["ventricular"]["longest_run"] and filled["ventricular"]["couplets"]
    validator.validate(filled | {"rejected": {}})  # as the API serves it: no event rejected on review


def test_fhir_carries_heart_rate_extremes_af_burden_and_ectopy(api_as, staff_a, rhythm_recording):
    observations = resources(fetch_valid_bundle(api_as(staff_a), rhythm_recording), "Observation")
    rhythm = rhythm_recording.diagnosis.rhythm
    assert by_code(observations, "heart-rate-min")["valueQuantity"]["value"] == rhythm["heart_rate"]["hr_min"]["bpm"]
    assert by_code(observations, "heart-rate-max")["valueQuantity"]["value"] == rhythm["heart_rate"]["hr_max"]["bpm"]
    # one heart-rate vital sign (the mean): the minimum and maximum are statistics of the recording
    vitals = [o for o in observations if any(c["code"] == "8867-4" for c in o["code"]["coding"])]
    assert len(vitals) == 1 and vitals[0]["code"]["text"] == "Mean heart rate"
    burden = by_code(observations, "af-burden")
    assert burden["valueQuantity"]["code"] == "%"
    assert burden["code"]["text"].endswith(
        "(share of the time whose rhythm could be read: no signal, noise and VF/VFL left out)"
    )
    ventricular = by_code(observations, "ventricular-ectopic-beats")
    assert ventricular["valueQuantity"]["value"] == rhythm["ventricular"]["total"]
    counts = {c["code"]["coding"][0]["code"]: c.get("valueInteger") for c in ventricular["component"]}
    # the project's codes are words joined by hyphens, as every other code of the bundle
    assert counts["ventricular-couplets"] == rhythm["ventricular"]["couplets"]
    assert counts["ventricular-bigeminy-episodes"] == rhythm["ventricular"]["bigeminy_episodes"]
    # the burden, a share of the beats: a quantity in per cent beside the counts
    (burden,) = [c for c in ventricular["component"] if c["code"]["coding"][0]["code"] == "ventricular-ectopic-burden"]
    assert rhythm["ventricular"]["total"] and burden["valueQuantity"]["code"] == "%"
    assert burden["valueQuantity"]["value"] == rhythm["ventricular"]["burden_pct"] > 0
    assert all(set(code) <= set("abcdefghijklmnopqrstuvwxyz-") for code in counts)


@pytest.mark.parametrize(
    "started",
    [
        "2026-12-04T23:59:50+01:00",  # over midnight
        "2024-10-27T02:59:30+02:00",  # into the hour Berlin's clocks repeat: the instant, not the wall clock
    ],
)
def test_fhir_heart_rate_extremes_are_effective_over_their_own_eight_beats(
    api_as, staff_a, rhythm_recording, settings, started
):
    """A receiver charting the slowest and fastest rate puts each at its own time, not over the whole recording."""
    from datetime import UTC, datetime, timedelta

    settings.TIME_ZONE = "Europe/Berlin"
    origin = datetime.fromisoformat(started)
    ECGRecording.objects.filter(pk=rhythm_recording.pk).update(recorded_at=origin)
    rhythm_recording.refresh_from_db()
    fs = rhythm_recording.sampling_rate
    observations = resources(fetch_valid_bundle(api_as(staff_a), rhythm_recording), "Observation")
    period = by_code(observations, "af-burden")["effectivePeriod"]
    assert period["start"] == started
    for key in ("min", "max"):
        extreme = rhythm_recording.diagnosis.rhythm["heart_rate"][f"hr_{key}"]
        observation = by_code(observations, f"heart-rate-{key}")
        window = {edge: datetime.fromisoformat(observation["effectivePeriod"][edge]) for edge in ("start", "end")}
        assert window == {edge: origin + timedelta(seconds=extreme[edge] / fs) for edge in ("start", "end")}
        # inside the recording's period, in the site's zone at that instant
        assert datetime.fromisoformat(period["start"]) <= window["start"] < window["end"]
        assert window["end"] <= datetime.fromisoformat(period["end"])
        for edge in ("start", "end"):
            at = window[edge].astimezone(UTC)
            assert window[edge].utcoffset() == timedelta(hours=1 if at >= datetime(2024, 10, 27, 1, tzinfo=UTC) else 2)
        assert 0 < extreme["end"] - extreme["start"] < 10 * fs  # 8 beats
        edges = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in observation["component"]}
        assert edges[f"heart-rate-{key}-start"] == {
            "value": seconds_cut(extreme["start"] / fs, 2),
            "unit": "s",
            "system": "http://unitsofmeasure.org",
            "code": "s",
        }
        assert edges[f"heart-rate-{key}-end"]["value"] == seconds_cut(extreme["end"] / fs, 2)


def test_fhir_tells_of_life_threatening_episodes_first(api_as, staff_a, rhythm_recording):
    bundle = fetch_valid_bundle(api_as(staff_a), rhythm_recording)
    observations = resources(bundle, "Observation")
    (vf,) = rhythm_recording.diagnosis.rhythm["vf"]
    found = by_code(observations, "ventricular-fibrillation-episodes")
    assert found["valueQuantity"]["value"] == 1 and found["interpretation"][0]["coding"][0]["code"] == "AA"
    duration, onset = (c["valueQuantity"]["value"] for c in found["component"])
    # cut to hundredths, as the events and the CSV export give them (no duration reads longer than it is)
    assert duration == seconds_cut((vf["end"] - vf["start"]) / 360, 2) and onset == seconds_cut(vf["start"] / 360, 2)
    asystole = by_code(observations, "asystole-episodes")
    assert asystole["valueQuantity"]["value"] == 0 and asystole["interpretation"][0]["coding"][0]["code"] == "N"
    assert "component" not in asystole
    assert by_code(observations, "pause-episodes")["valueQuantity"]["value"] == sum(
        1 for e in rhythm_recording.events.all() if e.type == "pause"
    )
    (report,) = resources(bundle, "DiagnosticReport")
    whole = seconds_cut((vf["end"] - vf["start"]) / 360, 0)
    assert report["conclusion"].startswith(f"Life-threatening rhythm: VF/VFL 1 episode, {whole:.0f} s in all. ")


def test_a_vf_episodes_duration_reads_the_same_in_its_event_and_in_fhir(api_as, staff_a, rhythm_recording):
    # the event gave hundredths and FHIR tenths of the same episode: 10.29 s beside 10.2 s
    api = api_as(staff_a)
    (event,) = api.get(f"/api/v1/recordings/{rhythm_recording.pk}/events", {"type": "vf"}).json()["results"]
    found = by_code(
        resources(fetch_valid_bundle(api, rhythm_recording), "Observation"), "ventricular-fibrillation-episodes"
    )
    parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in found["component"]}
    seconds = (event["end"] - event["start"]) / 360
    assert parts["ventricular-fibrillation-episodes-duration"] == event["duration_s"] == seconds_cut(seconds, 2)
    assert event["duration_s"] != seconds_cut(seconds, 1)  # a duration whose hundredths tell the two apart
    assert parts["ventricular-fibrillation-episodes-first-onset"] == seconds_cut(event["start"] / 360, 2)


def test_a_vf_episode_a_doctor_rejected_raises_no_alarm_in_fhir_or_on_the_page(
    api_as, client, staff_a, doctor_a, rhythm_recording
):
    event = rhythm_recording.events.get(type="vf")
    page = reverse("recording-detail", args=[rhythm_recording.pk])
    html = client_for(client, staff_a).get(page).content.decode()
    assert 'class="alarm" role="alert"' in html and "not reviewed yet" in html
    services.event_review_create(user=doctor_a, event=event, decision="reject", note="artefact")
    observations = resources(fetch_valid_bundle(api_as(staff_a), rhythm_recording), "Observation")
    found = by_code(observations, "ventricular-fibrillation-episodes")
    assert found["valueQuantity"]["value"] == 0 and found["interpretation"][0]["coding"][0]["code"] == "N"
    assert found["component"][0]["valueQuantity"]["value"] == 1  # rejected on review
    (report,) = resources(fetch_valid_bundle(api_as(staff_a), rhythm_recording), "DiagnosticReport")
    assert report["conclusion"].startswith("Detected and rejected by a doctor on review: VF/VFL 1 episode. ")
    html = client_for(client, staff_a).get(page).content.decode()
    assert 'role="alert"' not in html and "every episode rejected on review" in html and "rejected by" in html


def test_detections_inside_vf_are_counted_once_and_said_to_be_left_out(api_as, client, staff_a, rhythm_recording):
    # MIT-BIH 207: the class table counted every detection, the ectopy figures only those outside VF
    rhythm = rhythm_recording.diagnosis.rhythm
    (vf,) = rhythm["vf"]
    inside = _left_out(rhythm_recording, rhythm)
    assert rhythm_recording.beats.filter(position__gte=vf["start"], position__lte=vf["end"]).count() > 0
    assert rhythm["beats_left_out"] == inside
    assert rhythm["beats_analysed"] + inside == rhythm_recording.beats.count()
    html = client_for(client, staff_a).get(reverse("recording-detail", args=[rhythm_recording.pk])).content.decode()
    assert f"{inside} detections inside VF/VFL, without signal, in noise or faint inside a pause left out" in html
    observations = resources(fetch_valid_bundle(api_as(staff_a), rhythm_recording), "Observation")
    note = by_code(observations, "ventricular-ectopic-beats")["note"][0]["text"]
    assert f"the {inside} detections there are in the beat-class counts only" in note


def test_the_mi_flags_review_reaches_fhir(api_as, staff_a, doctor_a, done_recording):
    from diagnostics.models import Diagnosis

    Diagnosis.objects.filter(recording=done_recording).update(mi_flag=True)
    services.review_create(user=doctor_a, diagnosis=done_recording.diagnosis, decision="reject", note="second look")
    bundle = fetch_valid_bundle(api_as(staff_a), done_recording)
    flag = by_code(resources(bundle, "Observation"), "mi-flag")
    assert flag["valueBoolean"] is True  # the model's flag
    assert flag["interpretation"][0]["coding"][0]["code"] == "N"  # ... which a doctor dismissed
    assert flag["component"][0]["valueCodeableConcept"]["coding"][0]["code"] == "mi-review-reject"
    assert "second look" in flag["note"][0]["text"]
    (report,) = resources(bundle, "DiagnosticReport")
    assert "Doctor's review: MI rejected (no MI), by" in report["conclusion"]


def test_a_confirmed_mi_flag_stays_abnormal_and_the_latest_review_decides(api_as, staff_a, doctor_a, done_recording):
    from diagnostics.models import Diagnosis

    def interpretation() -> str:
        bundle = fetch_valid_bundle(api_as(staff_a), done_recording)
        flag = by_code(resources(bundle, "Observation"), "mi-flag")
        return flag["interpretation"][0]["coding"][0]["code"]

    Diagnosis.objects.filter(recording=done_recording).update(mi_flag=True)
    assert interpretation() == "A"  # flagged, not yet reviewed
    services.review_create(user=doctor_a, diagnosis=done_recording.diagnosis, decision="reject", note="artefact")
    assert interpretation() == "N"
    services.review_create(user=doctor_a, diagnosis=done_recording.diagnosis, decision="confirm", note="on reflection")
    assert interpretation() == "A"


def test_the_csv_export_lists_the_events_after_the_beats(client, api_as, staff_a, doctor_a, rhythm_recording):
    event = rhythm_recording.events.get(type="vf")
    services.event_review_create(user=doctor_a, event=event, decision="reject", note="artefact")
    services.event_review_create(user=doctor_a, event=event, decision="confirm", note="on a second look")
    services.event_review_create(user=doctor_a, event=event, decision="reject", note="artefact after all")
    response = client_for(client, staff_a).get(reverse("recording-export", args=[rhythm_recording.pk]))
    with CaptureQueriesContext(connection) as queries:  # the events' reviews in one query, not one per event
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert sum("diagnostics_eventreview" in q["sql"] for q in queries.captured_queries) == 1
    header = rows.index(EVENT_COLUMNS)
    # by position from the start, as a reader of an earlier export took them (columns are added at the end)
    assert EVENT_COLUMNS[3:6] == ["type", "start_sample", "end_sample"] and EVENT_COLUMNS[9:11] == [
        "rate_bpm",
        "review",
    ]
    assert header == 1 + rhythm_recording.beats.count() + 1  # beats, a blank line, then the events
    events = rows[header + 1 : rows.index([], header)]  # the MI screen's table after a blank line
    assert len(events) == rhythm_recording.events.count()
    vf_row = next(r for r in events if r[3] == "vf")
    assert int(vf_row[4]) == event.start and vf_row[10] == "reject"
    # joined to the API by its id and index; numbered from 1 as the pages number them
    listed = api_as(staff_a).get(f"/api/v1/recordings/{rhythm_recording.pk}/events", {"page_size": 1000}).json()
    api = {e["id"]: e for e in listed["results"]}
    assert [int(r[EVENT_COLUMNS.index("event")]) for r in events] == list(range(1, len(events) + 1))
    for r in events:
        assert api[int(r[EVENT_COLUMNS.index("event_id")])]["start"] == int(r[EVENT_COLUMNS.index("start_sample")])
    beats = rows[1 : header - 1]
    assert rows[0][3] == "beat" and rows[0][12:14] == ["beat_index", "mi_scored"]
    assert [(int(r[3]), int(r[12])) for r in beats[:3]] == [(1, 0), (2, 1), (3, 2)]


def test_only_doctors_review_events_and_every_decision_is_kept(staff_a, doctor_a, doctor_b, rhythm_recording):
    event = rhythm_recording.events.get(type="vf")
    with pytest.raises(NotAllowed):
        services.event_review_create(user=staff_a, event=event, decision="confirm")
    with pytest.raises(NotAllowed):
        services.event_review_create(user=doctor_b, event=event, decision="confirm")
    services.event_review_create(user=doctor_a, event=event, decision="confirm")
    services.event_review_create(user=doctor_a, event=event, decision="reject", note=" noise ")
    assert [r.decision for r in event.reviews.all()] == ["reject", "confirm"]
    assert Event.objects.get(pk=event.pk).latest_review().note == "noise"


def test_a_lead_off_stored_by_the_worker_is_signal_loss_not_vf_or_asystole(
    api_as, client, staff_a, patient_a, active_models
):
    values = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=360 * 90).p_signal[:, 0]
    values[360 * 30 : 360 * 50] = 0.0  # 20 s where the lead was off and the file holds zeros
    recording = classified_upload(api_as(staff_a), patient_a, values)
    assert not recording.events.filter(type__in=["vf", "asystole", "pause", "brady"]).exists()
    rhythm = recording.diagnosis.rhythm
    assert rhythm["no_signal_s"] == pytest.approx(20, abs=1) and len(rhythm["no_signal"]) == 1
    assert 65 < recording.diagnosis.heart_rate_bpm < 85
    html = client_for(client, staff_a).get(reverse("recording-detail", args=[recording.pk])).content.decode()
    assert "<dt>No signal</dt><dd>20 s in 1 stretch (a lead off" in html


def test_s_calls_inside_atrial_fibrillation_are_said_to_be_left_out_of_the_ectopy(
    api_as, client, staff_a, rhythm_recording
):
    diagnosis = rhythm_recording.diagnosis
    diagnosis.rhythm["supraventricular"]["in_af"] = 7
    diagnosis.save(update_fields=["rhythm"])
    observations = resources(fetch_valid_bundle(api_as(staff_a), rhythm_recording), "Observation")
    notes = " ".join(n["text"] for n in by_code(observations, "supraventricular-ectopic-beats").get("note", []))
    assert "7 beats called S inside or running into atrial fibrillation or flutter are not counted as ectopy." in notes
    assert "called S inside" not in " ".join(
        n["text"] for n in by_code(observations, "ventricular-ectopic-beats").get("note", [])
    )
    html = client_for(client, staff_a).get(reverse("recording-detail", args=[rhythm_recording.pk])).content.decode()
    assert "(and 7 beats called S inside or running into atrial fibrillation or flutter, not counted as ectopy)" in html


def _figures(bundle) -> dict:
    """What FHIR counts of the events: the episodes' counts and interpretations, the AF burden and episodes, the
    ectopy's runs and couplets, and the components counting those rejected on review."""
    observations = resources(bundle, "Observation")
    out = {}
    for code in ("ventricular-tachycardia-episodes", "pause-episodes"):
        found = by_code(observations, code)
        out[code] = (found["valueQuantity"]["value"], found["interpretation"][0]["coding"][0]["code"])
    for code in ("af-burden", "ventricular-ectopic-beats", "supraventricular-ectopic-beats"):
        out[code] = by_code(observations, code)["valueQuantity"]["value"]
    for code in ("ventricular-tachycardia-episodes", "pause-episodes", *list(out)[2:]):
        for part in by_code(observations, code).get("component", []):
            out[part["code"]["coding"][0]["code"]] = part.get(
                "valueInteger", part.get("valueQuantity", {}).get("value")
            )
    return out


def test_events_of_every_kind_a_doctor_rejected_are_set_apart_as_rejected_vf_is(
    api_as, staff_a, doctor_a, rhythm_recording
):
    """A rejected VT, pause, AF episode or couplet was still counted in FHIR's episode and ectopy Observations and
    flagged the result abnormal, where a rejected VF/VFL or asystole is counted apart; the API's summary agrees."""
    api = api_as(staff_a)
    before = _figures(fetch_valid_bundle(api, rhythm_recording))
    summary_before = api.get(f"/api/v1/recordings/{rhythm_recording.pk}").json()["diagnosis"]["rhythm"]
    # events the analysis found (as the worker writes them and its summary counts them), that a doctor rejects
    fs, clinic = 360, rhythm_recording.clinic_id
    found = [
        Event(type="vt", start=1000, end=1600, beats=4, rate_bpm=160.0),
        Event(type="pause", start=2000, end=2000 + int(2.5 * fs), beats=0, rate_bpm=None),
        Event(type="af", start=6000, end=6000 + 10 * fs, beats=14, rate_bpm=110.0),
        Event(type="v_couplet", start=9000, end=9100, beats=2, rate_bpm=None),
    ]
    diagnosis = rhythm_recording.diagnosis
    rhythm = diagnosis.rhythm
    for event in found:
        event.recording, event.clinic_id = rhythm_recording, clinic
        event.save()
        rhythm["event_counts"][event.type] = rhythm["event_counts"].get(event.type, 0) + 1
    rhythm["ventricular"]["runs"] += 1
    rhythm["ventricular"]["fast_runs"] += 1
    rhythm["ventricular"]["couplets"] += 1
    rhythm["pauses"]["count"] += 1
    rhythm["af"]["episodes"] += 1
    readable = rhythm["duration_s"] - rhythm.get("no_signal_s", 0) - rhythm.get("noise_s", 0)
    rhythm["af"]["duration_s"] = round(rhythm["af"]["duration_s"] + 10.0, 1)
    rhythm["af"]["burden_pct"] = round(100.0 * rhythm["af"]["duration_s"] / readable, 2)
    diagnosis.rhythm = rhythm
    diagnosis.save(update_fields=["rhythm"])
    counted = _figures(fetch_valid_bundle(api, rhythm_recording))
    assert counted["ventricular-tachycardia-episodes"] == (before["ventricular-tachycardia-episodes"][0] + 1, "A")
    assert counted["af-burden"] > before["af-burden"]

    for event in found:
        services.event_review_create(user=doctor_a, event=event, decision="reject", note="artefact")
    bundle = fetch_valid_bundle(api, rhythm_recording)
    (report,) = resources(bundle, "DiagnosticReport")
    assert report["status"] == "amended"  # what it counts changed with the decisions
    assert by_code(resources(bundle, "Observation"), "ventricular-tachycardia-episodes")["status"] == "amended"
    after = _figures(bundle)
    assert after["ventricular-tachycardia-episodes"] == before["ventricular-tachycardia-episodes"]
    assert after["pause-episodes"] == before["pause-episodes"]
    for code in ("ventricular-tachycardia-episodes", "pause-episodes"):
        assert after[f"{code}-rejected"] == 1
    assert after["af-burden"] == pytest.approx(before["af-burden"], abs=0.02)
    assert after["af-episodes"] == before["af-episodes"] and after["af-episodes-rejected"] == 1
    for part in ("ventricular-runs", "ventricular-couplets"):
        assert after[part] == before[part]
    assert after["ventricular-events-rejected"] == 2 and "supraventricular-events-rejected" not in after
    # the API's summary counts them as FHIR does, and says how many of each kind it left out
    summary = api.get(f"/api/v1/recordings/{rhythm_recording.pk}").json()["diagnosis"]["rhythm"]
    assert summary["rejected"] == {"af": 1, "pause": 1, "v_couplet": 1, "vt": 1}
    assert summary["event_counts"] == summary_before["event_counts"]
    assert summary["ventricular"]["runs"] == summary_before["ventricular"]["runs"]
    assert summary["af"]["episodes"] == summary_before["af"]["episodes"]
    listed = api.get("/api/v1/recordings").json()["results"]
    (row,) = [r for r in listed if r["id"] == rhythm_recording.pk]
    assert row["diagnosis"]["rhythm"] == summary


def test_a_rejected_event_moves_the_diagnosis_s_last_modified_as_its_summary_changes(
    api_as, staff_a, doctor_a, done_recording
):
    """The diagnosis's rhythm leaves out the events a doctor rejected: its Last-Modified moves with a rejection (a
    client holding it with If-Unmodified-Since is told it changed), not with a confirmation, which changes nothing."""
    from datetime import timedelta

    from django.utils.http import http_date

    diagnosis = done_recording.diagnosis
    diagnosis.rhythm = {"vf": [], "asystole": [], "event_counts": {"pause": 2}, "pauses": {"count": 2, "longest": None}}
    diagnosis.created_at -= timedelta(hours=1)  # made an hour ago: HTTP dates count seconds
    diagnosis.save(update_fields=["rhythm", "created_at"])
    confirmed, rejected = (
        Event.objects.create(recording=done_recording, clinic=done_recording.clinic, type="pause", start=s, end=s + 900,
                             beats=0)
        for s in (10, 5000)
    )  # fmt: skip
    api, url = api_as(staff_a), f"/api/v1/diagnoses/{diagnosis.pk}"
    first = api.get(url)["Last-Modified"]
    services.event_review_create(user=doctor_a, event=confirmed, decision="confirm")
    assert api.get(url)["Last-Modified"] == first
    review = services.event_review_create(user=doctor_a, event=rejected, decision="reject")
    read = api.get(url)
    assert read.json()["rhythm"]["event_counts"] == {"pause": 1} and read.json()["rhythm"]["rejected"] == {"pause": 1}
    assert read["Last-Modified"] == http_date(review.created_at.timestamp()) != first


def test_a_vf_episode_counts_no_beats_in_the_events_the_summary_the_csv_and_the_schema(
    api_as, staff_a, client, rhythm_recording
):
    # what is detected inside ventricular flutter are waves, not beats: its "beats" had counted those detections
    api = api_as(staff_a)
    events = api.get(f"/api/v1/recordings/{rhythm_recording.pk}/events").json()["results"]
    (flutter,) = [e for e in events if e["type"] == "vf"]
    assert flutter["beats"] is None
    assert all(isinstance(e["beats"], int) for e in events if e["type"] != "vf")  # asystole: 0, a pause: 2
    rhythm = api.get(f"/api/v1/recordings/{rhythm_recording.pk}").json()["diagnosis"]["rhythm"]
    assert [e["beats"] for e in rhythm["vf"]] == [None]
    text = b"".join(api.get(f"/api/v1/recordings/{rhythm_recording.pk}/export.csv").streaming_content).decode()
    table = text[text.index("patient_mrn,recording,event,") :].split("\r\n\r\n")[0]
    rows = [row for row in csv.DictReader(io.StringIO(table)) if row["type"] == "vf"]
    assert [row["beats"] for row in rows] == [""]
    openapi = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schemas = openapi["components"]["schemas"]
    for schema in ("Event", "RhythmEpisode", "WithdrawnEvent"):
        assert "null" in schemas[schema]["properties"]["beats"]["type"], schema


def test_the_migration_takes_the_count_out_of_the_vf_episodes_stored_before(rhythm_recording):
    from importlib import import_module

    from django.db.migrations.executor import MigrationExecutor

    from diagnostics.models import BeatCorrection, Diagnosis

    migration = import_module("diagnostics.migrations.0033_event_beats_none_in_vf")
    diagnosis = rhythm_recording.diagnosis
    Event.objects.filter(recording=rhythm_recording, type="vf").update(beats=20)  # as analysed before
    diagnosis.rhythm["vf"] = [episode | {"beats": 20} for episode in diagnosis.rhythm["vf"]]
    diagnosis.save(update_fields=["rhythm"])
    pause = {"type": "pause", "start": 1, "end": 2, "beats": 2, "decisions": [], "withdrawn_at": None}
    correction = BeatCorrection.objects.create(
        recording=rhythm_recording,
        clinic=rhythm_recording.clinic,
        to_class="S",
        beat_indices=[0],
        previous={"N": [0]},
        made_by=rhythm_recording.uploaded_by,
        withdrawn_events=[pause, pause | {"type": "vf", "beats": 20}],
    )
    apps = MigrationExecutor(connection).loader.project_state(("diagnostics", "0033_event_beats_none_in_vf")).apps
    migration.vf_counts_no_beats(apps, None)
    assert list(Event.objects.filter(recording=rhythm_recording, type="vf").values_list("beats", flat=True)) == [None]
    assert all(e.beats is not None for e in Event.objects.filter(recording=rhythm_recording).exclude(type="vf"))
    assert [e["beats"] for e in Diagnosis.objects.get(pk=diagnosis.pk).rhythm["vf"]] == [None]
    correction.refresh_from_db()
    assert [e["beats"] for e in correction.withdrawn_events] == [2, None]
