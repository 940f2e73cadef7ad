"""The doctors' decisions on an MI flag: what they are made over, and what the trail keeps of them."""

import re

import pytest
from django.urls import reverse

from accounts.models import AuditEvent, User
from diagnostics import services
from diagnostics.models import Diagnosis, Review
from ecgsite.errors import ReviewRefused

from ..conftest import client_for
from ..factories import UserFactory
from ..helpers import beat_recording, mi_screened
from .test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)


@pytest.fixture
def colleague(clinic_a):
    return UserFactory(
        username="doctor_c", clinic=clinic_a, role=User.Role.DOCTOR, first_name="Carla", last_name="Colleague"
    )


def _form_fields(page: str) -> dict[str, str]:
    """The hidden fields of the review page's decision form, as a browser sends them back."""
    form = page[page.index('class="review"') : page.index("</form>", page.index('class="review"'))]
    inputs = re.findall(r'<input type="hidden" name="([a-z]+)"([^>]*)>', form)
    return {name: (re.findall(r'value="([^"]*)"', rest) or [""])[0] for name, rest in inputs}


@pytest.mark.django_db
def test_a_review_is_refused_when_a_correction_meanwhile_left_the_screen_not_assessable(
    staff_a, doctor_a, patient_a, active_models
):
    recording = beat_recording(staff_a, patient_a, beats=6)
    diagnosis = recording.diagnosis  # read by the page or API view, flagged
    assert diagnosis.mi_flag
    # a beat correction committed meanwhile (diagnostics.corrections._mi_rescreened) left too few beats to score
    Diagnosis.objects.filter(pk=diagnosis.pk).update(
        mi_status="not_assessable", mi_reason="too few beats left", mi_score=None, mi_flag=False
    )
    with pytest.raises(ReviewRefused):
        services.review_create(user=doctor_a, diagnosis=diagnosis, decision="confirm", note="ST elevation")
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_a_colleague_s_decision_made_since_the_page_was_opened_is_not_decided_over_unseen(
    client, staff_a, doctor_a, colleague, patient_a, active_models
):
    recording = beat_recording(staff_a, patient_a, beats=6)
    client_for(client, doctor_a)
    page = client.get(reverse("recording-review", args=[recording.pk])).content.decode()
    # a colleague confirms while this doctor reads the ECG
    services.review_create(user=colleague, diagnosis=recording.diagnosis, decision="confirm", note="ST elevation")
    url = reverse("review-create", args=[recording.diagnosis.pk])
    sent = _form_fields(page) | {"decision": "reject", "note": "looks like artefact to me"}
    response = client.post(url, sent)
    assert response.status_code == 409
    answer = response.content.decode()
    assert "Carla Colleague recorded “MI confirmed”" in answer and "looks like artefact to me" in answer
    assert list(Review.objects.values_list("decision", flat=True)) == ["confirm"]
    assert not AuditEvent.objects.filter(action="review", user=doctor_a).exists()
    # the page shown again has the colleague's decision in it: deciding now is deciding over it, knowingly
    response = client.post(url, _form_fields(answer) | {"decision": "reject", "note": "artefact: lead swap"})
    assert response.status_code == 302
    assert list(Review.objects.order_by("pk").values_list("decision", flat=True)) == ["confirm", "reject"]


@pytest.mark.django_db
def test_the_api_refuses_a_review_over_a_colleague_s_decision_not_read(
    staff_a, doctor_a, colleague, patient_a, active_models
):
    from rest_framework.test import APIClient

    recording = beat_recording(staff_a, patient_a, beats=6)
    api = APIClient()
    api.force_authenticate(doctor_a)
    services.review_create(user=colleague, diagnosis=recording.diagnosis, decision="confirm")
    body = {"diagnosis": recording.diagnosis.pk, "decision": "reject", "note": "artefact", "after": None}
    response = api.post("/api/v1/reviews", body, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "review_changed"
    latest = api.get(f"/api/v1/diagnoses/{recording.diagnosis.pk}").json()["latest_review"]["id"]
    assert api.post("/api/v1/reviews", body | {"after": latest}, format="json").status_code == 201


@pytest.mark.django_db
def test_a_view_of_the_review_page_is_audited_as_a_view_of_its_recording(
    client, staff_a, doctor_a, patient_a, active_models
):
    beat_recording(staff_a, patient_a, classify=False)  # a recording with no diagnosis: the two ids part ways
    recording = beat_recording(staff_a, patient_a, beats=6)
    assert recording.diagnosis.pk != recording.pk
    client_for(client, doctor_a).get(reverse("recording-review", args=[recording.pk]))
    row = AuditEvent.objects.filter(path=reverse("recording-review", args=[recording.pk])).get()
    assert (row.action, row.object_type, row.object_id) == ("view", "recording", str(recording.pk))


@pytest.fixture
def screened_signal(request, doctor_a):
    """70 s of MIT-BIH 207 made to read as screened in lead II: beats 20-59 scored, 30, 31, 40 and 41 high."""
    from diagnostics.models import Beat

    recording = request.getfixturevalue("holter_recording")
    scored = list(range(20, 60))
    Beat.objects.filter(recording=recording).update(mi_probability=0.55)
    Beat.objects.filter(recording=recording, index__in=[30, 31, 40, 41]).update(mi_probability=0.95)
    mi_screened(recording, scored, 0.55, flag=True, reason="median MI probability of 40 beats")
    return recording


def _scored_rows(page: str) -> list[int]:
    table = page[page.index("data-scored-beats") : page.index("</table>", page.index("data-scored-beats"))]
    return [int(n) for n in re.findall(r'<span class="no-js-only">(\d+)</span>', table)]


@pytest.mark.django_db
def test_the_review_page_explains_the_score_by_the_beats_it_is_over_after_a_correction(
    client, doctor_a, screened_signal
):
    from diagnostics import corrections

    # beats 31 and 41 called ectopic (indices; 30 and 40 before them left out too): the score is over 36 beats
    classes = set(screened_signal.beats.filter(index__in=[31, 41]).values_list("aami_class", flat=True))
    to = next(c for c in "VSFQ" if c not in classes)  # a class neither has: both change
    made = corrections.beat_correction_make(recording=screened_signal, by=doctor_a, to_class=to, beats=[31, 41])
    assert Diagnosis.objects.get(recording=screened_signal).mi_beats_used == 36
    client_for(client, doctor_a)
    page = client.get(reverse("recording-review", args=[screened_signal.pk])).content.decode()
    assert "36 beats scored of" in page and "4 more left out after a doctor's beat corrections" in page
    assert "40 beats scored of" not in page
    shown = _scored_rows(page)
    assert len(shown) == 36 and not {31, 32, 41, 42} & set(shown)  # numbered from 1
    # decided on, the screen stands: undoing the correction afterwards changes neither the screen nor its explanation
    services.review_create(user=doctor_a, diagnosis=screened_signal.diagnosis, decision="reject", note="artefact")
    corrections.beat_correction_undo(correction=made, by=doctor_a)
    assert Diagnosis.objects.get(recording=screened_signal).mi_beats_used == 36
    page = client.get(reverse("recording-review", args=[screened_signal.pk])).content.decode()
    assert "36 beats scored of" in page and len(_scored_rows(page)) == 36


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["not_assessable", "not_applicable"])
def test_the_printed_report_does_not_call_a_screen_that_did_not_speak_not_flagged(
    client, staff_a, patient_a, active_models, status
):
    recording = beat_recording(staff_a, patient_a, beats=6)
    Diagnosis.objects.filter(recording=recording).update(
        mi_status=status, mi_reason="too few clean beats", mi_score=None, mi_flag=False
    )
    page = client_for(client, staff_a).get(reverse("recording-report", args=[recording.pk])).content.decode()
    section = page[page.index("Myocardial infarction screening") :]
    assert "Not flagged; no review required." not in section  # read as a negative screen
    assert "neither flagged nor clear" in section
    # a screen that spoke and did not flag still says so
    Diagnosis.objects.filter(recording=recording).update(mi_status="screened", mi_score=0.1)
    page = client.get(reverse("recording-report", args=[recording.pk])).content.decode()
    assert "Not flagged; no review required." in page


def _csv_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """The export's tables by the first column that tells each apart, each as its rows by header."""
    import csv
    import io

    tables: dict[str, list[dict[str, str]]] = {}
    for block in text.lstrip("\ufeff").strip().split("\r\n\r\n"):
        rows = list(csv.DictReader(io.StringIO(block)))
        header = block.split("\r\n", 1)[0].split(",")
        key = next(k for k in ("mi_status", "event", "correction", "beat") if k in header)
        tables[key] = rows
    return tables


@pytest.mark.django_db
def test_the_csv_export_says_what_the_mi_screen_found_and_what_a_doctor_decided(
    client, staff_a, doctor_a, patient_a, active_models
):
    recording = beat_recording(staff_a, patient_a, beats=6)
    client_for(client, staff_a)
    url = reverse("recording-export", args=[recording.pk])

    def mi_table():
        response = client.get(url)
        return _csv_tables(b"".join(response.streaming_content).decode())

    tables = mi_table()
    (row,) = tables["mi_status"]
    assert (row["mi_status"], row["mi_flag"], row["decision"], row["decisions"]) == ("screened", "true", "", "0")
    assert [b["mi_scored"] for b in tables["beat"]] == ["1"] * 6 and row["beats_scored"] == "6"
    services.review_create(user=doctor_a, diagnosis=recording.diagnosis, decision="confirm", note="ST elevation")
    services.review_create(user=doctor_a, diagnosis=recording.diagnosis, decision="reject", note="=artefact")
    (row,) = mi_table()["mi_status"]
    assert (row["mi_flag"], row["decision"], row["reviewed_by"], row["decisions"]) == (
        "true",
        "reject",
        "doctor_a",
        "2",
    )
    assert row["review_note"] == "'=artefact"  # not run as a formula

    other = beat_recording(staff_a, patient_a, beats=6)
    Diagnosis.objects.filter(recording=other).update(
        mi_status="not_assessable",
        mi_reason="3 of 6 beats are clean",
        mi_score=None,
        mi_flag=False,
        mi_beats_used=3,
        mi_scored_beats=[1, 2, 3],
    )  # the few clean beats kept, as the screen keeps them, and no score
    response = client.get(reverse("recording-export", args=[other.pk]))
    tables = _csv_tables(b"".join(response.streaming_content).decode())
    (row,) = tables["mi_status"]
    assert (row["mi_status"], row["mi_score"], row["mi_flag"], row["beats_scored"]) == (
        "not_assessable",
        "",
        "false",
        "3",
    )
    assert [b["mi_scored"] for b in tables["beat"]] == ["", "1", "1", "1", "", ""]


@pytest.mark.django_db
def test_the_api_s_beats_say_which_the_mi_screen_scored_after_a_correction_as_the_csv_does(doctor_a, screened_signal):
    from rest_framework.test import APIClient

    from diagnostics import corrections

    classes = set(screened_signal.beats.filter(index__in=[31, 41]).values_list("aami_class", flat=True))
    to = next(c for c in "VSFQ" if c not in classes)
    corrections.beat_correction_make(recording=screened_signal, by=doctor_a, to_class=to, beats=[31, 41])
    api = APIClient()
    api.force_authenticate(doctor_a)
    beats = api.get(f"/api/v1/recordings/{screened_signal.pk}/beats", {"page_size": 1000}).json()["results"]
    scored = [b["index"] for b in beats if b["mi_scored"]]
    assert scored == [i for i in range(20, 60) if i not in (30, 31, 40, 41)]
    assert (
        len(scored)
        == api.get(f"/api/v1/recordings/{screened_signal.pk}").json()["diagnosis"]["mi_screen"]["beats_used"]
    )


@pytest.mark.django_db
def test_an_mi_screen_a_correction_changed_since_the_page_was_opened_is_not_decided_on_unseen(
    client, doctor_a, colleague, screened_signal
):
    from diagnostics import corrections

    client_for(client, doctor_a)
    page = client.get(reverse("recording-review", args=[screened_signal.pk])).content.decode()
    # a colleague calls two scored beats ectopic while this doctor reads the ECG: the score is over 36 beats now
    classes = set(screened_signal.beats.filter(index__in=[31, 41]).values_list("aami_class", flat=True))
    to = next(c for c in "VSFQ" if c not in classes)
    corrections.beat_correction_make(recording=screened_signal, by=colleague, to_class=to, beats=[31, 41])
    url = reverse("review-create", args=[screened_signal.diagnosis.pk])
    response = client.post(url, _form_fields(page) | {"decision": "confirm", "note": "ST elevation"})
    assert response.status_code == 409
    answer = response.content.decode()
    assert "The MI screen changed since you opened this page" in answer and "over 36 beats" in answer
    assert not Review.objects.exists()
    response = client.post(url, _form_fields(answer) | {"decision": "confirm", "note": "ST elevation"})
    assert response.status_code == 302 and Review.objects.count() == 1


@pytest.mark.django_db
def test_a_doctor_s_decision_on_an_mi_flag_is_kept_as_made_in_the_app_and_the_database(
    staff_a, doctor_a, patient_a, active_models
):
    from django.db import DatabaseError, transaction

    recording = beat_recording(staff_a, patient_a, beats=6)
    review = services.review_create(user=doctor_a, diagnosis=recording.diagnosis, decision="confirm", note="STEMI")
    review.decision = "reject"
    with pytest.raises(PermissionError):
        review.save()
    with pytest.raises(PermissionError):
        review.delete()
    # beside the app: the database refuses it too, as it does for interpretations and moves
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Review.objects.filter(pk=review.pk).update(decision="reject", note="")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Review.objects.filter(pk=review.pk).delete()
    assert Review.objects.values_list("decision", "note").get() == ("confirm", "STEMI")
