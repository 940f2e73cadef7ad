import pytest
from django.urls import reverse

from diagnostics import ingestion, services

from ..conftest import client_for
from ..helpers import beat_csv, beat_recording


@pytest.fixture
def done_recording(staff_a, patient_a, active_models):
    data = beat_csv(120)
    parsed = ingestion.parse_beats(filename="b.csv", data=data)
    recording = services.recording_submit(user=staff_a, patient=patient_a, parsed=parsed, data=data, filename="b.csv")
    services.recording_classify(recording_id=recording.pk, claim_token="t")
    recording.refresh_from_db()
    return recording


@pytest.mark.django_db
def test_the_recording_page_shows_counts_mi_and_versions(client, staff_a, done_recording):
    page = client_for(client, staff_a).get(reverse("recording-detail", args=[done_recording.pk])).content.decode()
    d = done_recording.diagnosis
    for c, n, pct in d.class_counts():
        assert f'<span class="cls cls-{c}">{c}</span></th><td>{n}</td><td>{pct:.1f} %' in page
    assert "MI score <strong>0.881</strong> against threshold 0.500" in page
    assert "heartbeat tiny-1, MI tiny-high" in page
    assert "Beats 1–50 of 120" in page
    assert f'href="{reverse("recording-export", args=[done_recording.pk])}" download' in page
    # a failed recording's page leads on to a new upload for the same patient
    done_recording.status = "failed"
    done_recording.save(update_fields=["status"])
    page = client.get(reverse("recording-detail", args=[done_recording.pk])).content.decode()
    assert f'href="{reverse("recording-upload", args=[done_recording.patient.pk])}">Upload again' in page


@pytest.mark.django_db
def test_the_beat_table_pages_and_plots_a_beat(client, staff_a, done_recording):
    client_for(client, staff_a)
    fragment = client.get(reverse("recording-beats", args=[done_recording.pk]), {"page": 3}).content.decode()
    assert "Beats 101–120 of 120" in fragment and "Plot beat 101" in fragment
    plot = client.get(reverse("beat-plot", args=[done_recording.pk, 104])).content.decode()
    assert "<polyline" in plot and "Beat 105" in plot
    assert client.get(reverse("beat-plot", args=[done_recording.pk, 500])).status_code == 404


@pytest.mark.django_db
def test_the_status_fragment_polls_while_queued_and_reloads_when_done(client, staff_a, patient_a):
    recording = beat_recording(staff_a, patient_a, beats=2, classify=False)
    client_for(client, staff_a)
    fragment = client.get(reverse("recording-status", args=[recording.pk]))
    assert 'hx-trigger="every 2s"' in fragment.content.decode() and "HX-Refresh" not in fragment
    recording.status = "done"
    recording.save()
    fragment = client.get(reverse("recording-status", args=[recording.pk]), {"was": "queued"})
    assert fragment["HX-Refresh"] == "true" and "every 2s" not in fragment.content.decode()


@pytest.mark.django_db
def test_the_dashboard_lists_pending_and_flagged_cases(client, doctor_a, done_recording):
    page = client_for(client, doctor_a).get(reverse("dashboard")).content.decode()
    assert "Flagged MI awaiting review" in page and done_recording.patient.display_name in page
    # the score beside its threshold, named ("0.381 / 0.274" read as a fraction)
    diagnosis = done_recording.diagnosis
    assert (
        f'MI score {diagnosis.mi_score:.3f}</span> <span class="muted small">(threshold {diagnosis.mi_threshold:.3f})'
        in page
    )


# --- viewer data, review page and report -------------------------------------------------


def test_the_envelope_keeps_each_buckets_extremes_on_fixed_boundaries():
    import numpy as np

    from diagnostics.plots import envelope

    values = np.sin(np.arange(100_000) / 37.0).astype(np.float32) * np.linspace(0.5, 2, 100_000, dtype=np.float32)
    data = envelope(values, start=12_345, end=52_345, px=500)
    step = data["step"]
    assert step == 128 and data["start"] % step == 0 and data["start"] <= 12_345
    assert data["start"] + step * len(data["min"]) >= 52_345
    i = 7
    bucket = values[data["start"] + i * step : data["start"] + (i + 1) * step]
    assert data["min"][i] == pytest.approx(float(bucket.min()), abs=1e-4)
    assert data["max"][i] == pytest.approx(float(bucket.max()), abs=1e-4)
    raw = envelope(values, start=10, end=410, px=500)
    assert raw["step"] == 1 and raw["max"] is None and len(raw["min"]) == 400


@pytest.fixture
def signal_recording(staff_a, patient_a, active_models):
    """The first 20 s of MIT-BIH record 100 uploaded as a CSV signal and classified."""
    import numpy as np

    from diagnostics.signal_uploads import parse_signal_upload
    from ecg.io.readers import read_wfdb

    from ..data import mitdb_dir

    lead = read_wfdb(mitdb_dir() / "100").leads["MLII"][: 20 * 360]
    data = ("MLII\n" + "\n".join(f"{v:.3f}" for v in lead) + "\n").encode()
    parsed, stored, name = parse_signal_upload({"100.csv": data}, fs=360.0, lead=None)
    recording = services.recording_submit(user=staff_a, patient=patient_a, parsed=parsed, data=stored, filename=name)
    services.recording_classify(recording_id=recording.pk, claim_token="t")
    recording.refresh_from_db()
    recording.lead_values = np.round(lead, 3)
    return recording


@pytest.mark.django_db
def test_the_signal_endpoint_returns_a_min_max_envelope_and_the_beats_in_the_window(client, staff_a, signal_recording):
    client_for(client, staff_a)
    url = reverse("recording-signal", args=[signal_recording.pk])
    data = client.get(url, {"start": 0, "end": 7200, "px": 100}).json()
    assert data["fs"] == 360.0 and data["samples"] == 7200 and data["lead"] == "MLII" and data["units"] is None
    assert data["step"] == 128 and len(data["min"]) == 57
    assert data["max"][3] == pytest.approx(signal_recording.lead_values[384:512].max(), abs=1e-3)
    positions = list(signal_recording.beats.order_by("position").values_list("position", flat=True))
    assert data["beats"]["position"] == positions and set(data["beats"]["class"]) <= set("NSVFQ")
    window = client.get(url, {"start": 1000, "end": 2000, "px": 2000}).json()
    assert window["step"] == 1 and window["max"] is None and len(window["min"]) == 1000
    assert window["beats"]["position"] == [p for p in positions if 1000 <= p < 2000]


@pytest.mark.django_db
def test_the_beats_of_a_window_too_dense_for_its_pixels_come_counted_by_class_in_its_buckets(
    client, staff_a, signal_recording
):
    # every beat of the window had come, bounded by the recording's length only: a day's window, 100,000 marks
    from diagnostics.plots import MARKS_PER_PX

    client_for(client, staff_a)
    url = reverse("recording-signal", args=[signal_recording.pk])
    marks = list(signal_recording.beats.order_by("position").values_list("position", "aami_class"))
    px = len(marks) // MARKS_PER_PX - 1  # one beat more than the window's pixels take one by one
    data = client.get(url, {"start": 0, "end": 7200, "px": px}).json()
    assert data["beats"] is None
    counts = data["beat_counts"]
    assert (counts["start"], counts["step"]) == (data["start"], data["step"])
    expected: dict[str, list[int]] = {}
    for position, cls in marks:
        expected.setdefault(cls, [0] * len(data["min"]))[(position - counts["start"]) // counts["step"]] += 1
    assert counts["classes"] == dict(sorted(expected.items()))
    # as many as its pixels take: each one, as before
    enough = client.get(url, {"start": 0, "end": 7200, "px": len(marks) // MARKS_PER_PX + 1}).json()
    assert enough["beat_counts"] is None and enough["beats"]["position"] == [p for p, _ in marks]
    # a window of a fifth: its own beats, counted in its own buckets
    part = client.get(url, {"start": 1440, "end": 2880, "px": 1}).json()
    inside = [p for p, _ in marks if 1440 <= p < 2880]
    assert sum(sum(v) for v in part["beat_counts"]["classes"].values()) == len(inside) > 2


@pytest.mark.django_db
def test_a_beats_probabilities_and_model_input_come_as_json(client, staff_a, done_recording):
    data = client_for(client, staff_a).get(reverse("beat-data", args=[done_recording.pk, 4])).json()
    beat = done_recording.beats.get(index=4)
    assert data["class"] == beat.aami_class and data["count"] == 120 and len(data["values"]) == 187
    assert data["probabilities"]["N"] == pytest.approx(beat.p_n, abs=1e-4)
    assert client.get(reverse("beat-data", args=[done_recording.pk, 120])).status_code == 404
    assert client.get(reverse("recording-signal", args=[done_recording.pk])).status_code == 404  # beat file


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route, staff, doctor, other_clinic",
    [
        ("recording-signal", 404, 404, 404),  # a beat file has no continuous signal
        ("beat-data", 200, 200, 404),
        ("recording-review", 403, 200, 403),
        ("recording-report", 200, 200, 404),
    ],
)
def test_viewer_review_and_report_routes_are_clinic_scoped_and_role_checked(
    client, staff_a, doctor_a, staff_b, done_recording, route, staff, doctor, other_clinic
):
    args = [done_recording.pk, 0] if route == "beat-data" else [done_recording.pk]
    url = reverse(route, args=args)
    assert client.get(url).status_code == 302  # anonymous: to the login page
    for user, expected in ((staff_a, staff), (doctor_a, doctor), (staff_b, other_clinic)):
        client.force_login(user)
        assert client.get(url).status_code == expected, (user.username, url)


@pytest.mark.django_db
def test_the_review_page_shows_the_score_earlier_recordings_and_records_a_decision(client, doctor_a, done_recording):
    client_for(client, doctor_a)
    url = reverse("recording-review", args=[done_recording.pk])
    page = client.get(url).content.decode()
    assert 'role="meter"' in page and "data-ecg-viewer" in page and "first recording" in page
    response = client.post(
        reverse("review-create", args=[done_recording.diagnosis.pk]),
        {"decision": "confirm", "note": "ST up", "next": "review"},
    )
    assert response["Location"] == url
    page = client.get(url).content.decode()
    assert "MI confirmed</strong> by doctor_a" in page and "ST up" in page


@pytest.mark.django_db
def test_the_report_names_patient_versions_reviewer_and_decision(client, staff_a, doctor_a, done_recording):
    services.review_create(user=doctor_a, diagnosis=done_recording.diagnosis, decision="reject", note="artefact")
    page = client_for(client, staff_a).get(reverse("recording-report", args=[done_recording.pk])).content.decode()
    for text in (
        "Meyer, Anna",
        "A-0001",
        "tiny-1",
        "tiny-high",
        "MI rejected (no MI)",
        "doctor_a",
        "artefact",
        "<svg viewBox",
    ):
        assert text in page, text
    # a beat file's windows drawn end to end on ECG paper had been headed "ECG", their padding read as pauses
    assert done_recording.kind == "beats"
    assert "<h2>Beats as given to the model</h2>" in page and "Not a continuous ECG" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, name",
    [
        ({"start": "inf"}, "start"),
        ({"end": "-inf"}, "end"),
        ({"px": "1e400"}, "px"),
        ({"start": "nan"}, "start"),
        ({"px": "many"}, "px"),
    ],
)
def test_a_signal_window_parameter_that_is_not_a_finite_number_is_a_clear_400(
    client, staff_a, signal_recording, params, name
):
    response = client_for(client, staff_a).get(reverse("recording-signal", args=[signal_recording.pk]), params)
    assert response.status_code == 400
    assert response.json() == {"error": f"{name} must be a finite number of samples"}


@pytest.mark.django_db
def test_a_class_set_by_a_rule_is_said_to_be_beside_the_probabilities_that_disagree(client, staff_a, done_recording):
    # a UX review read "S" beside P(N) 0.788 as a contradiction: nothing said a rule had set it
    from diagnostics.models import Beat

    beat = done_recording.beats.get(index=2)
    Beat.objects.filter(pk=beat.pk).update(aami_class="S", p_n=0.788, p_s=0.193, p_v=0.01, p_f=0.005, p_q=0.004)
    other = done_recording.beats.get(index=3)
    Beat.objects.filter(pk=other.pk).update(aami_class="N", p_n=0.9, p_s=0.05, p_v=0.03, p_f=0.01, p_q=0.01)
    client_for(client, staff_a)
    assert client.get(reverse("beat-data", args=[done_recording.pk, 2])).json()["by_rule"] is True
    assert client.get(reverse("beat-data", args=[done_recording.pk, 3])).json()["by_rule"] is False
    plot = client.get(reverse("beat-plot", args=[done_recording.pk, 2])).content.decode()
    assert "Class S was set by a rule from the beat's context" in plot
    assert "set by a rule" not in client.get(reverse("beat-plot", args=[done_recording.pk, 3])).content.decode()
    table = client.get(reverse("recording-beats", args=[done_recording.pk])).content.decode()
    rows = table.split("<tr>")[2:]  # after the header row: beat index 0, 1, 2...
    assert "(set by a rule)" in rows[2] and "(set by a rule)" not in rows[3]
    assert "* The class was set by a rule" in table  # the footnote, with a marked beat on the page
    Beat.objects.filter(pk=beat.pk).update(aami_class="N")
    table = client.get(reverse("recording-beats", args=[done_recording.pk])).content.decode()
    assert "* The class was set by a rule" not in table or "(set by a rule)" in table  # only beside a mark


@pytest.mark.django_db
def test_the_same_file_uploaded_again_for_a_patient_is_pointed_out(client, staff_a, patient_a, staff_b, patient_b):
    from ..helpers import beat_recording

    first = beat_recording(staff_a, patient_a, beats=5, classify=False)
    again = beat_recording(staff_a, patient_a, beats=5, classify=False)
    other = beat_recording(staff_a, patient_a, beats=6, classify=False)  # another file
    elsewhere = beat_recording(staff_b, patient_b, beats=5, classify=False)  # the same bytes, another clinic
    assert again.sha256 == first.sha256 == elsewhere.sha256 != other.sha256
    client_for(client, staff_a)
    page = client.get(reverse("recording-detail", args=[again.pk])).content.decode()
    assert "The same file was uploaded for this patient before" in page
    assert f'href="{reverse("recording-detail", args=[first.pk])}">recording {first.pk}</a>' in page
    assert f"recording {elsewhere.pk}<" not in page
    assert "The same file was uploaded" not in client.get(reverse("recording-detail", args=[other.pk])).content.decode()
    # the first upload's page names no later one as "before"
    assert "The same file was uploaded" not in client.get(reverse("recording-detail", args=[first.pk])).content.decode()
