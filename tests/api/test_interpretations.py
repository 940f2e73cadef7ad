"""A doctor's signed interpretation over the API (recordings/{id}/interpretations and the recording's
``interpretation``), in the FHIR report and as a webhook notice."""

import hashlib
import hmac
import json

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from api.fhir import installation
from api.models import WebhookDelivery
from api.services import api_token_create
from diagnostics import services
from diagnostics.models import ECGRecording, Interpretation

from .conftest import submit_beats
from .test_fhir import fetch_valid_bundle, resources

pytestmark = pytest.mark.django_db
FINDINGS = "Sinus rhythm, 72 /min.\nNo ischaemic changes."


def url(recording) -> str:
    return f"/api/v1/recordings/{recording.pk}/interpretations"


def error(response) -> dict:
    return response.json()["error"]


def report_of(data) -> dict:
    (report,) = resources(data, "DiagnosticReport")
    return report


def test_a_doctor_signs_then_amends_and_both_are_listed_newest_first(api_as, doctor_a, done_recording):
    api = api_as(doctor_a)
    assert api.get(url(done_recording)).json()["count"] == 0
    created = api.post(url(done_recording), {"text": "Sinus rhythm.\r\nNo ST changes.  "}, format="json")
    assert created.status_code == 201, created.content
    first = Interpretation.objects.get()
    assert created.json() == {
        "id": first.pk,
        "recording": done_recording.pk,
        "text": "Sinus rhythm.\nNo ST changes.",
        "reason": "",  # a first version's
        "undecided_at_signing": 0,
        "signed_by": {"id": doctor_a.pk, "name": "doctor_a"},
        "signed_at": first.created_at.isoformat().replace("+00:00", "Z"),
        "amends": None,
    }
    amended = api.post(url(done_recording), {"text": FINDINGS, "reason": " Findings\nadded. "}, format="json")
    assert amended.status_code == 201 and amended.json()["amends"] == first.pk
    assert amended.json()["reason"] == "Findings added."  # one line, stripped
    listed = api.get(url(done_recording)).json()
    assert listed["count"] == 2
    assert listed["results"] == [amended.json(), created.json()]
    page = api.get(url(done_recording), {"page_size": 1}).json()
    assert page["results"] == [amended.json()] and "page=2" in page["next"]
    assert api.get(url(done_recording), {"page_size": 1, "page": 2}).json()["results"] == [created.json()]
    audited = AuditEvent.objects.filter(
        action=AuditEvent.Action.REVIEW, object_type="recording", path=url(done_recording)
    )
    assert audited.count() == 2 and {a.object_id for a in audited} == {str(done_recording.pk)}


def test_staff_may_read_but_not_sign(api_as, staff_a, doctor_a, done_recording):
    services.interpretation_sign(user=doctor_a, recording=done_recording, text=FINDINGS)
    api = api_as(staff_a)
    assert api.get(url(done_recording)).json()["results"][0]["text"] == FINDINGS
    refused = api.post(url(done_recording), {"text": "My own reading."}, format="json")
    assert refused.status_code == 403
    assert error(refused) == {
        "code": "permission_denied",
        "message": "Only doctors and administrators sign interpretations.",
    }
    assert Interpretation.objects.count() == 1


def test_another_clinic_gets_404(api_as, doctor_b, done_recording):
    api = api_as(doctor_b)
    for response in (api.get(url(done_recording)), api.post(url(done_recording), {"text": FINDINGS}, format="json")):
        assert response.status_code == 404 and error(response)["code"] == "not_found"
    assert not Interpretation.objects.exists()


@pytest.mark.parametrize("status,code", [("queued", "not_ready"), ("failed", "recording_failed")])
def test_a_recording_not_done_is_409(api_as, doctor_a, staff_a, patient_a, status, code):
    recording = submit_beats(staff_a, patient_a)
    ECGRecording.objects.filter(pk=recording.pk).update(status=status)
    response = api_as(doctor_a).post(url(recording), {"text": FINDINGS}, format="json")
    assert response.status_code == 409 and error(response)["code"] == code
    assert not Interpretation.objects.exists()


@pytest.mark.parametrize(
    "body,code,words",
    [
        ({"text": "  \r\n "}, "validation_error", "blank"),
        ({"text": "x" * 4001}, "validation_error", "at most 4,000"),
        ({"text": "Sinus\x07 rhythm"}, "validation_error", "control character (U+0007)"),
        ({"text": "Sinus\x00rhythm"}, "validation_error", "Null characters are not allowed"),
        ({"text": "PR \u202e160 ms"}, "validation_error", "invisible direction character (U+202E"),
        ({"text": 12}, "validation_error", "Expected text"),
        ({}, "validation_error", "required"),
        ({"text": FINDINGS, "author": 1}, "validation_error", "unknown field"),
    ],
)
def test_a_bad_text_is_400_naming_it(api_as, doctor_a, done_recording, body, code, words):
    response = api_as(doctor_a).post(url(done_recording), body, format="json")
    assert response.status_code == 400, response.content
    assert error(response)["code"] == code and words in error(response)["message"]
    assert error(response)["field"] in ("text", "author")
    assert not Interpretation.objects.exists()


def test_an_unchanged_amendment_is_400_unchanged(api_as, doctor_a, done_recording):
    api = api_as(doctor_a)
    assert api.post(url(done_recording), {"text": FINDINGS}, format="json").status_code == 201
    response = api.post(url(done_recording), {"text": FINDINGS.replace("\n", "\r\n") + "\n"}, format="json")
    assert response.status_code == 400
    assert error(response)["code"] == "unchanged" and error(response)["field"] == "text"
    assert Interpretation.objects.count() == 1


def test_the_recording_carries_its_current_interpretation_and_the_link(api_as, staff_a, doctor_a, done_recording):
    api = api_as(staff_a)
    body = api.get(f"/api/v1/recordings/{done_recording.pk}").json()
    assert (
        body["interpretation"] is None and body["links"]["interpretations"] == f"http://testserver{url(done_recording)}"
    )
    services.interpretation_sign(user=doctor_a, recording=done_recording, text="First reading.")
    services.interpretation_sign(user=doctor_a, recording=done_recording, text=FINDINGS, reason="Findings added.")
    current = api.get(url(done_recording)).json()["results"][0]
    body = api.get(f"/api/v1/recordings/{done_recording.pk}").json()
    assert body["interpretation"] == current and current["text"] == FINDINGS
    # the list's rows (written by PostgreSQL, then by Python for a conditional read) say the same
    for headers in ({}, {"HTTP_IF_NONE_MATCH": '"no-match"'}):
        rows = api.get("/api/v1/recordings", **headers).json()["results"]
        (row,) = [r for r in rows if r["id"] == done_recording.pk]
        assert row == body, headers


def test_signing_changes_the_recordings_etag(api_as, staff_a, doctor_a, done_recording):
    api = api_as(staff_a)
    detail = f"/api/v1/recordings/{done_recording.pk}"
    before = api.get(detail)["ETag"]
    assert api.get(detail, HTTP_IF_NONE_MATCH=before).status_code == 304
    services.interpretation_sign(user=doctor_a, recording=done_recording, text=FINDINGS)
    after = api.get(detail, HTTP_IF_NONE_MATCH=before)
    assert after.status_code == 200 and after["ETag"] != before
    assert after.json()["interpretation"]["text"] == FINDINGS
    assert api.get(detail, HTTP_IF_NONE_MATCH=after["ETag"]).status_code == 304


def test_listing_interpretations_costs_a_constant_number_of_queries(
    api_as, doctor_a, admin_a, done_recording, django_assert_max_num_queries
):
    for i in range(12):
        services.interpretation_sign(
            user=admin_a if i % 2 else doctor_a, recording=done_recording, text=f"Reading {i}.", reason=f"Reason {i}."
        )
    api = api_as(doctor_a)
    with django_assert_max_num_queries(8):
        body = api.get(url(done_recording), {"page_size": 50}).json()
    assert [r["text"] for r in body["results"]] == [f"Reading {i}." for i in reversed(range(12))]


# --- FHIR -----------------------------------------------------------------------------------------------------------


def test_an_unsigned_report_names_no_interpreter(api_as, staff_a, done_recording):
    data = fetch_valid_bundle(api_as(staff_a), done_recording)
    assert "resultsInterpreter" not in report_of(data) and resources(data, "Practitioner") == []
    assert not report_of(data)["conclusion"].startswith("Interpretation")


def test_a_signed_report_names_its_interpreter_and_leads_with_the_interpretation(
    api_as, staff_a, doctor_a, done_recording
):
    doctor_a.first_name, doctor_a.last_name = "Dana", "Doctor"
    doctor_a.save()
    api = api_as(staff_a)
    before = report_of(fetch_valid_bundle(api, done_recording))
    signed = services.interpretation_sign(user=doctor_a, recording=done_recording, text=FINDINGS)
    data = fetch_valid_bundle(api, done_recording)
    report = report_of(data)
    (interpreter,) = report["resultsInterpreter"]
    entries = {e["fullUrl"]: e["resource"] for e in data["entry"]}
    practitioner = entries[interpreter["reference"]]
    assert practitioner["resourceType"] == "Practitioner" and interpreter["display"] == "Dana Doctor"
    assert practitioner["name"] == [{"text": "Dana Doctor", "family": "Doctor", "given": ["Dana"]}]
    assert practitioner["identifier"] == [
        {"system": f"urn:ecg-analyzer:{installation()}:user", "value": str(doctor_a.pk)}
    ]
    day = timezone.localtime(signed.created_at).date().isoformat()
    assert report["conclusion"] == f"Interpretation by Dana Doctor, {day}: {FINDINGS} {before['conclusion']}"
    assert report["status"] == "amended" and before["status"] == "final"
    assert report["issued"] == data["timestamp"] == signed.created_at.isoformat()
    # the Observations are the automatic analysis, unchanged by a signature
    assert {o["status"] for o in resources(data, "Observation")} == {"final"}


def test_the_report_is_issued_at_the_latest_of_the_reviews_and_the_signature(api_as, staff_a, doctor_a, done_recording):
    api = api_as(staff_a)
    signed = services.interpretation_sign(user=doctor_a, recording=done_recording, text=FINDINGS)
    review = services.review_create(user=doctor_a, diagnosis=done_recording.diagnosis, decision="confirm")
    assert report_of(fetch_valid_bundle(api, done_recording))["issued"] == review.created_at.isoformat()
    amended = services.interpretation_sign(
        user=doctor_a, recording=done_recording, text="Amended reading.", reason="Corrected."
    )
    report = report_of(fetch_valid_bundle(api, done_recording))
    assert report["issued"] == amended.created_at.isoformat() > signed.created_at.isoformat()
    assert (
        report["conclusion"].startswith("Interpretation by doctor_a, ")
        and ": Amended reading. " in report["conclusion"]
    )


# --- webhook --------------------------------------------------------------------------------------------------------


def test_a_signature_is_told_to_the_clinics_webhooks(
    delivered, staff_a, staff_b, doctor_a, done_recording, django_capture_on_commit_callbacks
):
    from api.webhooks import signing_secret

    address, received = delivered
    token, _secret = api_token_create(user=staff_a, webhook_url=address)
    api_token_create(user=staff_b, webhook_url=address + "/b")  # another clinic: not told
    with django_capture_on_commit_callbacks(execute=True):
        signed = services.interpretation_sign(user=doctor_a, recording=done_recording, text=FINDINGS)
    ((headers, body),) = received
    assert json.loads(body) == {
        "event": "recording.interpreted",
        "recording": done_recording.pk,
        "diagnosis": done_recording.diagnosis.pk,
        "mi_status": "screened",
        "mi_flag": True,
        "url": f"http://127.0.0.1:8000/api/v1/recordings/{done_recording.pk}",  # at SITE_URL
        "interpretation": signed.pk,
        "signed_by": "doctor_a",
        "signed_at": signed.created_at.isoformat().replace("+00:00", "Z"),  # as the API writes times
        "interpretations_url": f"http://127.0.0.1:8000{url(done_recording)}",
    }
    key = signing_secret(token).encode()
    assert headers["x-ecg-signature"] == "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    delivery = WebhookDelivery.objects.get(token=token)
    assert (delivery.event, delivery.status, headers["x-ecg-delivery"]) == (
        "recording.interpreted",
        "sent",
        str(delivery.pk),
    )


def test_the_interpretation_answers_conform_to_the_schema(api_as, staff_a, doctor_a, done_recording, client):
    from .test_schema_responses import Conformance

    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    conformance = Conformance(schema)
    doctor = api_as(doctor_a)
    assert conformance.check(doctor.get(url(done_recording)))["results"] == []
    assert conformance.check(api_as(staff_a).get(f"/api/v1/recordings/{done_recording.pk}"))["interpretation"] is None
    first = conformance.check(doctor.post(url(done_recording), {"text": FINDINGS}, format="json"))
    amended = conformance.check(
        doctor.post(url(done_recording), {"text": "Amended.", "reason": "Corrected."}, format="json")
    )
    assert (first["amends"], amended["amends"]) == (None, first["id"])
    assert conformance.check(doctor.post(url(done_recording), {"text": "Amended."}, format="json"))["error"][
        "code"
    ] == ("unchanged")
    assert conformance.check(api_as(staff_a).post(url(done_recording), {"text": "x"}, format="json"))["error"]
    assert len(conformance.check(doctor.get(url(done_recording)))["results"]) == 2
    recording = conformance.check(doctor.get(f"/api/v1/recordings/{done_recording.pk}"))
    assert recording["interpretation"] == amended
    assert conformance.check(doctor.get("/api/v1/recordings"))["results"][0]["interpretation"] == amended


def test_the_api_checks_the_version_read_the_undecided_episodes_and_the_amendments_reason(
    api_as, doctor_a, admin_a, done_recording
):
    from diagnostics.models import Event

    api = api_as(doctor_a)
    first = api.post(url(done_recording), {"text": FINDINGS, "amends": None}, format="json")
    assert first.status_code == 201  # over no version: none was signed
    colleague = services.interpretation_sign(user=admin_a, recording=done_recording, text="SVT.", reason="SVT seen.")
    stale = api.post(url(done_recording), {"text": "Mine.", "amends": first.json()["id"], "reason": "r"}, format="json")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "interpretation_changed"
    no_reason = api.post(url(done_recording), {"text": "Mine.", "amends": colleague.pk}, format="json")
    assert no_reason.status_code == 400 and no_reason.json()["error"]["field"] == "reason"
    error = no_reason.json()["error"]
    assert error["details"] == {"reason": [error["message"]]}  # as a serializer's refusal gives them
    Event.objects.create(
        recording=done_recording, clinic=done_recording.clinic, type="asystole", start=1, end=900, beats=0
    )
    body = {"text": "Mine.", "amends": colleague.pk, "reason": "Re-read."}
    undecided = api.post(url(done_recording), body, format="json")
    assert undecided.status_code == 409 and undecided.json()["error"]["code"] == "episodes_undecided"
    assert done_recording.interpretations.count() == 2  # none of the refused ones signed
    signed = api.post(url(done_recording), body | {"acknowledge_undecided": True}, format="json")
    assert (
        signed.status_code == 201 and signed.json()["reason"] == "Re-read." and signed.json()["amends"] == colleague.pk
    )
    assert signed.json()["undecided_at_signing"] == 1  # how it was signed, kept
