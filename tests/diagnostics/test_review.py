from datetime import UTC, datetime

import pytest
from django.urls import reverse

from diagnostics import ingestion, selectors, services
from diagnostics.models import ECGRecording, Review

from ..conftest import client_for
from ..factories import PatientFactory
from ..helpers import beat_csv, beat_recording


def classified(user, patient, *, seed=0):
    data = beat_csv(6, seed=seed)
    parsed = ingestion.parse_beats(filename="b.csv", data=data)
    recording = services.recording_submit(user=user, patient=patient, parsed=parsed, data=data, filename="b.csv")
    services.recording_classify(recording_id=recording.pk, claim_token=f"t{recording.pk}")
    recording.refresh_from_db()
    return recording


@pytest.mark.django_db
def test_staff_get_403_on_the_review_queue(client, staff_a, patient_b):
    response = client_for(client, staff_a).get(reverse("review-queue"))
    assert response.status_code == 403
    # the page says why and keeps the navigation (it was a bare "403 Forbidden")
    html = response.content.decode()
    assert "Only doctors and administrators review MI cases." in html and 'href="/"' in html and "<nav" in html
    missing = client.get(reverse("patient-detail", args=[patient_b.pk]))
    assert missing.status_code == 404 and "belongs to another clinic" in missing.content.decode()


@pytest.mark.django_db
def test_staff_cannot_post_a_review(client, staff_a, patient_a, active_models):
    recording = classified(staff_a, patient_a)
    response = client_for(client, staff_a).post(
        reverse("review-create", args=[recording.diagnosis.pk]), {"decision": "confirm"}
    )
    assert response.status_code == 403 and not Review.objects.exists()


@pytest.mark.django_db
def test_the_queue_lists_unreviewed_first_then_highest_score(client, staff_a, doctor_a, clinic_a, active_models):
    recordings = [classified(staff_a, PatientFactory(clinic=clinic_a), seed=i) for i in range(3)]
    from diagnostics.models import Diagnosis

    for score, rec in zip([0.7, 0.95, 0.8], recordings):
        Diagnosis.objects.filter(pk=rec.diagnosis.pk).update(mi_score=score)
    services.review_create(user=doctor_a, diagnosis=recordings[1].diagnosis, decision="reject", note="artefact")
    from diagnostics.selectors import review_queue

    order = [d.recording_id for d in review_queue(user=doctor_a)]
    assert order == [recordings[2].pk, recordings[0].pk, recordings[1].pk]
    page = client_for(client, doctor_a).get(reverse("review-queue")).content.decode()
    assert page.index(f"Recording {recordings[2].pk}") < page.index(f"Recording {recordings[0].pk}")


@pytest.mark.django_db
def test_a_doctor_confirms_and_staff_see_the_outcome(client, staff_a, doctor_a, patient_a, active_models):
    recording = classified(staff_a, patient_a)
    client_for(client, doctor_a)
    assert recording.pk and f"Recording {recording.pk}" in client.get(reverse("review-queue")).content.decode()
    response = client.post(
        reverse("review-create", args=[recording.diagnosis.pk]), {"decision": "confirm", "note": "ST elevation V2-V4"}
    )
    assert response.status_code == 302
    client.logout()
    page = client_for(client, staff_a).get(reverse("recording-detail", args=[recording.pk])).content.decode()
    assert "MI confirmed" in page and "ST elevation V2-V4" in page and "doctor_a" in page


def test_a_review_note_with_a_control_character_is_refused_beside_the_note(
    client, staff_a, doctor_a, patient_a, active_models
):
    recording = classified(staff_a, patient_a)
    response = client_for(client, doctor_a).post(
        reverse("review-create", args=[recording.diagnosis.pk]), {"decision": "confirm", "note": "ST\x1b[2J elevation"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "The note was not accepted: The note holds a control character (U+001B)" in html
    assert 'aria-describedby="note-error"' in html and "Choose confirm or reject" not in html
    assert not Review.objects.exists()
    # nor an invisible direction character, which reorders the note after it in a spreadsheet or another system
    response = client.post(
        reverse("review-create", args=[recording.diagnosis.pk]), {"decision": "confirm", "note": "ST \u202eV2-V4"}
    )
    assert response.status_code == 400 and not Review.objects.exists()
    said = "The note holds an invisible direction character (U+202E RIGHT-TO-LEFT OVERRIDE): remove it."
    assert said in response.content.decode()
    # a note too long was refused with no word of why either
    response = client.post(
        reverse("review-create", args=[recording.diagnosis.pk]), {"decision": "confirm", "note": "x" * 4001}
    )
    assert response.status_code == 400 and "at most 4000 characters (it has 4001)" in response.content.decode()


@pytest.mark.django_db
def test_review_history_is_kept(doctor_a, staff_a, patient_a, active_models):
    recording = classified(staff_a, patient_a)
    services.review_create(user=doctor_a, diagnosis=recording.diagnosis, decision="confirm")
    services.review_create(user=doctor_a, diagnosis=recording.diagnosis, decision="reject", note="second look")
    assert [r.decision for r in recording.diagnosis.reviews.order_by("created_at")] == ["confirm", "reject"]
    assert recording.diagnosis.latest_review().note == "second look"


@pytest.mark.django_db
def test_a_doctor_of_another_clinic_gets_404(client, staff_a, patient_a, clinic_b, active_models):
    from ..factories import UserFactory

    recording = classified(staff_a, patient_a)
    doctor_b = UserFactory(username="doctor_b", clinic=clinic_b, role="doctor")
    response = client_for(client, doctor_b).post(
        reverse("review-create", args=[recording.diagnosis.pk]), {"decision": "confirm"}
    )
    assert response.status_code == 404 and not Review.objects.exists()


@pytest.mark.django_db
def test_the_review_page_refuses_a_diagnosis_not_flagged_for_mi_as_the_api_does(
    client, staff_a, doctor_a, patient_a, active_models
):
    from diagnostics.models import Diagnosis

    recording = classified(staff_a, patient_a)
    Diagnosis.objects.filter(pk=recording.diagnosis.pk).update(mi_flag=False)
    response = client_for(client, doctor_a).post(
        reverse("review-create", args=[recording.diagnosis.pk]), {"decision": "confirm"}
    )
    assert response.status_code == 409
    assert "Only diagnoses screened and flagged for MI are reviewed." in response.content.decode()
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_only_screened_and_flagged_diagnoses_are_queued_and_the_database_holds_to_it(
    client, staff_a, doctor_a, patient_a, active_models
):
    from django.db import IntegrityError, transaction

    from diagnostics import selectors
    from diagnostics.models import Diagnosis

    flagged, other = classified(staff_a, patient_a), classified(staff_a, patient_a, seed=1)
    Diagnosis.objects.filter(pk=other.diagnosis.pk).update(
        mi_status="not_assessable", mi_reason="2 of 6 beats are clean", mi_score=None, mi_flag=False
    )
    assert [d.pk for d in selectors.review_queue(user=doctor_a)] == [flagged.diagnosis.pk]
    with pytest.raises(IntegrityError), transaction.atomic():
        Diagnosis.objects.filter(pk=other.diagnosis.pk).update(mi_flag=True)
    other.diagnosis.refresh_from_db()
    with pytest.raises(Exception, match="screened and flagged"):
        services.review_create(user=doctor_a, diagnosis=other.diagnosis, decision="confirm")
    page = client_for(client, doctor_a).get(reverse("recording-review", args=[other.pk])).content.decode()
    assert "not assessable" in page
    assert (
        "An MI decision is made only on recordings the MI screen screened and flagged; this one was not screened."
        in page
    )


@pytest.mark.django_db
def test_the_review_page_says_how_a_beat_files_score_was_made(client, staff_a, doctor_a, patient_a, active_models):
    # beat rows are scored as the mean over every row (services._mi_screen), not by the signal screen's
    # median over the dominant, clean beats
    recording = classified(staff_a, patient_a)
    html = client_for(client, doctor_a).get(reverse("recording-review", args=[recording.pk])).content.decode()
    assert "score = mean of their MI probabilities" in html and "every row, whatever its class" in html
    assert "median of their MI probabilities" not in html and "are not scored" not in html


@pytest.mark.django_db
def test_staff_pages_show_the_doctors_decision_beside_the_flag(client, staff_a, doctor_a, patient_a, active_models):
    """A flag a doctor rejected no longer reads as an open MI flag in red on the dashboard, the patient's
    page, the recording page or the printed report; a confirmed one says so."""
    recording = classified(staff_a, patient_a)
    assert recording.diagnosis.mi_flag
    client_for(client, staff_a)
    pages = (
        reverse("dashboard"),
        reverse("patient-detail", args=[patient_a.pk]),
        reverse("recording-detail", args=[recording.pk]),
        reverse("recording-report", args=[recording.pk]),
    )
    before = [client.get(url).content.decode() for url in pages]
    assert all("MI flagged" in page for page in before[:2])
    assert all("flagged for a doctor's review" in page for page in before[2:])
    services.review_create(user=doctor_a, diagnosis=recording.diagnosis, decision="reject", note="artefact")
    rejected = [client.get(url).content.decode() for url in pages]
    assert all("MI flag rejected by" in page and "MI flagged" not in page for page in rejected[:2])
    for page in rejected[2:]:
        assert "flagged for a doctor's review" not in page and "<strong>rejected</strong> by" in page
        assert 'class="mi-gauge flagged"' not in page
    services.review_create(user=doctor_a, diagnosis=recording.diagnosis, decision="confirm")
    confirmed = [client.get(url).content.decode() for url in pages]
    assert all("MI confirmed by" in page for page in confirmed[:2])
    assert all(
        "<strong>MI confirmed</strong> by" in page and 'class="mi-gauge flagged"' in page for page in confirmed[2:]
    )


@pytest.mark.django_db
def test_the_review_page_lists_earlier_recordings_with_the_decision_on_their_flag(
    client, staff_a, doctor_a, patient_a, active_models
):
    earlier = classified(staff_a, patient_a)
    later = classified(staff_a, patient_a, seed=1)
    services.review_create(user=doctor_a, diagnosis=earlier.diagnosis, decision="reject", note="artefact")
    page = client_for(client, doctor_a).get(reverse("recording-review", args=[later.pk])).content.decode()
    table = page[page.index("Earlier recordings of this patient") :]
    assert "MI flag rejected by" in table and 'class="flag"' not in table.split("</table>")[0]
    assert "flagged for a doctor's review" in page  # the recording under review, not yet decided


@pytest.mark.django_db
def test_recordings_of_one_instant_are_listed_newest_made_first_and_the_earlier_ones_are_those_made_before(
    staff_a, patient_a
):
    # a batch uploaded at once: the pages' lists (dashboard, patient) and "earlier recordings" break the tie by id
    made = [beat_recording(staff_a, patient_a, classify=False) for _ in range(3)]
    ECGRecording.objects.filter(pk__in=[r.pk for r in made]).update(created_at=datetime(2025, 3, 4, tzinfo=UTC))
    newest_made_first = [r.pk for r in made[::-1]]
    assert [r.pk for r in selectors.recording_list(user=staff_a)] == newest_made_first
    assert [r.pk for r in selectors.recording_list_with_alarms(user=staff_a, patient=patient_a)] == newest_made_first
    made[1].refresh_from_db()
    earlier = selectors.recording_list_earlier(user=staff_a, recording=made[1])
    assert [r.pk for r in earlier] == [made[0].pk]


@pytest.mark.django_db
def test_a_review_without_a_decision_comes_back_to_the_review_page_with_the_note_kept(
    client, staff_a, doctor_a, patient_a, active_models
):
    recording = classified(staff_a, patient_a)
    client_for(client, doctor_a)
    response = client.post(
        reverse("review-create", args=[recording.diagnosis.pk]), {"note": "ST elevation in V2", "next": "review"}
    )
    page = response.content.decode()
    assert response.status_code == 400 and "Your decision" in page
    assert 'id="decision-error"' in page and 'aria-describedby="decision-error"' in page
    assert "ST elevation in V2" in page  # the note typed is not lost
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_the_review_form_sent_twice_records_one_review_and_reused_for_another_decision_a_second(
    client, staff_a, doctor_a, patient_a, active_models
):
    # only the browser's submit-once script had kept a double click (or a resent page) from recording two reviews
    # (and sending two notices)
    import re

    recording = classified(staff_a, patient_a)
    client_for(client, doctor_a)
    page = client.get(reverse("recording-review", args=[recording.pk])).content.decode()
    (key,) = re.findall(r'name="submission" value="([0-9a-f]{32})"', page)
    url = reverse("review-create", args=[recording.diagnosis.pk])
    for _ in range(2):
        response = client.post(url, {"decision": "confirm", "note": "ST elevation", "submission": key})
        assert response.status_code == 302
    assert Review.objects.count() == 1
    # the same page's form, back in the browser, sent with another decision: a new review, not the first one
    # again, and that one too made once however often it is sent
    for _ in range(2):
        assert client.post(url, {"decision": "reject", "note": "artefact", "submission": key}).status_code == 302
    assert list(Review.objects.order_by("pk").values_list("decision", flat=True)) == ["confirm", "reject"]
    # a form sent again is audited as what it is: one review each, not one per click
    from accounts.models import AuditEvent

    assert AuditEvent.objects.filter(action="review", object_type="diagnosis").count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("note", ["", "   ", "\u200b"])
def test_rejecting_an_mi_flag_on_the_page_needs_a_reason_in_the_note(
    client, staff_a, doctor_a, patient_a, active_models, note
):
    # overriding a positive screen took one click and no word of why, while a rhythm alarm's rejection needs one
    recording = classified(staff_a, patient_a)
    client_for(client, doctor_a)
    page = client.get(reverse("recording-review", args=[recording.pk])).content.decode()
    assert "required to reject" in page
    url = reverse("review-create", args=[recording.diagnosis.pk])
    response = client.post(url, {"decision": "reject", "note": note, "next": "review"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="note-error"' in html and "rejecting an MI flag needs a reason" in html
    assert not Review.objects.exists()
    # a confirmation needs none; a rejection with its reason is recorded
    assert client.post(url, {"decision": "confirm", "note": note, "next": "review"}).status_code == 302
    assert client.post(url, {"decision": "reject", "note": "lead reversal", "next": "review"}).status_code == 302
    assert list(Review.objects.order_by("pk").values_list("decision", "note")) == [
        ("confirm", note.strip()),
        ("reject", "lead reversal"),
    ]
