from datetime import date

import pytest

from patients.models import Patient

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/patients"


@pytest.fixture
def api(api_as, staff_a):
    return api_as(staff_a)


def test_it_searches_by_mrn_and_name(api, clinic_a, patient_a):
    PatientFactory(clinic=clinic_a, mrn="A-0777", family_name="Okafor", given_name="Chidi")
    assert [p["mrn"] for p in api.get(URL, {"search": "okaf"}).json()["results"]] == ["A-0777"]
    assert [p["mrn"] for p in api.get(URL, {"search": "0001"}).json()["results"]] == ["A-0001"]
    assert [p["mrn"] for p in api.get(URL, {"search": "anna meyer"}).json()["results"]] == ["A-0001"]


def test_it_paginates(api, clinic_a):
    PatientFactory.create_batch(5, clinic=clinic_a)
    page = api.get(URL, {"page_size": 2, "page": 2}).json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["previous"] and page["next"]


def test_it_creates_a_patient_in_the_token_users_clinic(api, staff_a):
    response = api.post(
        URL, {"mrn": " A-9 ", "family_name": "Lund", "sex": "female", "date_of_birth": "1950-02-03"}, format="json"
    )
    assert response.status_code == 201, response.content
    patient = Patient.objects.get(mrn="A-9")
    assert (patient.clinic_id, patient.created_by, patient.sex) == (staff_a.clinic_id, staff_a, "female")


def test_a_taken_mrn_is_409(api, patient_a):
    response = api.post(URL, {"mrn": "A-0001", "family_name": "Twin"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "mrn_taken",
        "message": "Another patient of this clinic has this medical record number.",
        "field": "mrn",
    }


def test_an_mrn_differing_only_in_case_is_taken(api, patient_a):
    response = api.post(URL, {"mrn": patient_a.mrn.lower(), "family_name": "Twin"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "mrn_taken"
    assert api.patch(f"{URL}/{patient_a.pk}", {"mrn": patient_a.mrn.lower()}, format="json").status_code == 200


def test_the_same_mrn_in_another_clinic_is_fine(api, patient_b):
    assert api.post(URL, {"mrn": patient_b.mrn, "family_name": "Other"}, format="json").status_code == 201


def test_it_names_the_missing_field(api):
    response = api.post(URL, {"mrn": "A-2"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "family_name"
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    "body",
    [
        {"sex": "robot"},
        {"date_of_birth": "2999-01-01"},
        {"date_of_birth": "1850-06-01"},
        {"date_of_birth": "31.12.1950"},
        {"mrn": "x" * 65},
        {"mrn": "a\x00b"},
    ],
)
def test_it_refuses_invalid_values(api, body):
    response = api.post(URL, {"mrn": "A-3", "family_name": "V", **body}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == next(iter(body))


def test_a_date_of_birth_kept_from_before_the_check_blocks_no_other_change(api, patient_a, client, staff_a):
    from django.urls import reverse

    from ..conftest import client_for

    Patient.objects.filter(pk=patient_a.pk).update(date_of_birth=date(1850, 6, 1))  # stored before the check
    assert api.patch(f"{URL}/{patient_a.pk}", {"family_name": "Kept"}, format="json").status_code == 200
    body = api.get(f"{URL}/{patient_a.pk}").json() | {"given_name": "Also"}
    assert api.put(f"{URL}/{patient_a.pk}", body, format="json").status_code == 200
    client_for(client, staff_a)
    form = {"mrn": patient_a.mrn, "family_name": "Web", "date_of_birth": "1850-06-01", "sex": "unknown"}
    assert client.post(reverse("patient-edit", args=[patient_a.pk]), form).status_code == 302
    patient_a.refresh_from_db()
    assert (patient_a.family_name, patient_a.date_of_birth) == ("Web", date(1850, 6, 1))
    # a new date must be one a living patient can have
    refused = api.patch(f"{URL}/{patient_a.pk}", {"date_of_birth": "1850-06-02"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "date_of_birth"


def test_an_unknown_field_is_refused_and_nothing_is_stored(api, patient_a):
    # a misspelt field was dropped without a word and the patient stored without it
    response = api.post(URL, {"mrn": "A-4", "family_name": "V", "date_of_brith": "1950-02-03"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "date_of_brith" and "unknown field" in error["message"]
    assert "date_of_birth" in error["message"] and "created_at" not in error["message"]
    assert not Patient.objects.filter(mrn="A-4").exists()
    assert api.patch(f"{URL}/{patient_a.pk}", {"givenname": "X"}, format="json").status_code == 400
    # what the API gave may be sent back: read-only fields are known
    body = api.get(f"{URL}/{patient_a.pk}").json() | {"given_name": "Annika"}
    assert api.put(f"{URL}/{patient_a.pk}", body, format="json").status_code == 200


def test_it_updates_a_patient(api, patient_a, staff_a):
    patient_a.created_by = staff_a
    patient_a.save()
    response = api.patch(f"{URL}/{patient_a.pk}", {"given_name": "Annika"}, format="json")
    assert response.status_code == 200 and response.json()["given_name"] == "Annika"
    response = api.put(f"{URL}/{patient_a.pk}", {"mrn": "A-0001", "family_name": "Meyer"}, format="json")
    assert response.status_code == 200
    patient_a.refresh_from_db()
    assert (patient_a.given_name, patient_a.family_name) == ("", "Meyer")


def test_changing_to_a_taken_mrn_is_409(api, clinic_a, patient_a):
    other = PatientFactory(clinic=clinic_a, mrn="A-0002")
    assert api.patch(f"{URL}/{other.pk}", {"mrn": "A-0001"}, format="json").status_code == 409


def test_a_search_with_a_nul_character_is_400(api):
    assert api.get(URL, {"search": "a\x00"}).status_code == 400


def test_delete_is_not_allowed(api, patient_a):
    response = api.delete(f"{URL}/{patient_a.pk}")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("method", ["delete", "trace"])
def test_a_method_not_allowed_is_405_whatever_the_query(api, patient_a, method):
    # the query was checked first: 400 "unknown query parameter" for a method the endpoint does not have
    for path in (f"{URL}/{patient_a.pk}?page=1", "/api/v1/recordings/0/events?page=1"):
        response = api.generic(method.upper(), path)
        assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed", path


@pytest.mark.parametrize("value", ["12345", "1e400", "true", '["A"]', '{"a": 1}'])
def test_text_fields_take_only_text(api, patient_a, value):
    # DRF's CharField had turned JSON numbers into their digits: 1e400 was stored as the name "inf"
    body = '{"family_name": %s}' % value
    response = api.patch(f"{URL}/{patient_a.pk}", body, content_type="application/json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == "family_name" and error["message"].startswith("Expected text (a JSON string), not ")
    patient_a.refresh_from_db()
    assert patient_a.family_name == "Meyer"


def test_put_replaces_the_patient_and_patch_changes_only_what_it_sends(api, clinic_a):
    created = api.post(
        URL,
        {"mrn": "A-77", "family_name": "Lund", "given_name": "Paula", "date_of_birth": "1970-05-05", "sex": "female"},
        format="json",
    ).json()
    patched = api.patch(f"{URL}/{created['id']}", {"family_name": "Lund-Berg"}, format="json").json()
    assert (patched["given_name"], patched["date_of_birth"], patched["sex"]) == ("Paula", "1970-05-05", "female")
    put = api.put(f"{URL}/{created['id']}", {"mrn": "A-77", "family_name": "Lund"}, format="json")
    assert put.status_code == 200
    # what a PUT leaves out is cleared: the date of birth and sex had been kept
    assert {k: put.json()[k] for k in ("given_name", "date_of_birth", "sex")} == {
        "given_name": "",
        "date_of_birth": None,
        "sex": "unknown",
    }
    stored = Patient.objects.get(pk=created["id"])
    assert (stored.given_name, stored.date_of_birth, stored.sex) == ("", None, "unknown")


def test_a_write_with_a_stale_if_match_is_412_and_changes_nothing(api, patient_a):
    url = f"{URL}/{patient_a.pk}"
    read = api.get(url)
    etag = read["ETag"]
    # another system changes the patient meanwhile
    assert api.patch(url, {"given_name": "Annette"}, format="json").status_code == 200
    stale = api.patch(url, {"family_name": "Meier"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"
    patient_a.refresh_from_db()
    assert (patient_a.family_name, patient_a.given_name) == ("Meyer", "Annette")
    fresh = api.get(url)["ETag"]
    assert api.patch(url, {"family_name": "Meier"}, format="json", HTTP_IF_MATCH=f'"x", {fresh}').status_code == 200
    # a tag a compressing proxy marked weak still names the representation (the server sends strong tags only)
    weak = f"W/{api.get(url)['ETag']}"
    assert api.patch(url, {"family_name": "Meyer"}, format="json", HTTP_IF_MATCH=weak).status_code == 200
    assert api.patch(url, {"family_name": "Meier"}, format="json", HTTP_IF_MATCH=weak).status_code == 412  # stale
    assert api.put(url, {"mrn": "A-0001", "family_name": "Meyer"}, format="json", HTTP_IF_MATCH="*").status_code == 200


def test_a_write_after_if_unmodified_since_is_412(api, patient_a):
    from django.utils.http import http_date

    url = f"{URL}/{patient_a.pk}"
    refused = api.patch(url, {"family_name": "Meier"}, format="json", HTTP_IF_UNMODIFIED_SINCE=http_date(946684800))
    assert refused.status_code == 412 and refused.json()["error"]["field"] == "If-Unmodified-Since"
    assert (
        api.patch(url, {"family_name": "Meier"}, format="json", HTTP_IF_UNMODIFIED_SINCE=http_date()).status_code == 200
    )


def test_a_name_with_a_bidirectional_override_is_a_validation_error(api):
    response = api.post(URL, {"mrn": "A-58", "family_name": "Z\u202eoë"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "family_name" and "U+202E" in error["message"]
    assert not Patient.objects.filter(mrn="A-58").exists()


def test_every_create_says_where_the_new_resource_is(api, api_as, doctor_a, staff_a, patient_a, active_models):
    from diagnostics.models import Review

    from ..helpers import beat_recording

    created = api.post(URL, {"mrn": "A-61", "family_name": "Lund"}, format="json")
    assert created["Location"] == f"http://testserver{URL}/{created.json()['id']}"
    assert api.get(created["Location"]).json()["mrn"] == "A-61"
    recording = beat_recording(staff_a, patient_a, beats=30)
    assert recording.diagnosis.mi_flag  # the tiny MI model flags every recording: it can be reviewed
    reviewed = api_as(doctor_a).post(
        "/api/v1/reviews", {"diagnosis": recording.diagnosis.pk, "decision": "confirm"}, format="json"
    )
    assert (
        reviewed.status_code == 201
        and reviewed["Location"] == f"http://testserver/api/v1/reviews/{Review.objects.get().pk}"
    )


def test_a_read_only_field_sent_back_as_given_passes_and_a_changed_one_is_refused(api, patient_a):
    url = f"{URL}/{patient_a.pk}"
    resource = api.get(url).json()
    # the whole resource sent back, as a client that read it does: fine
    assert api.put(url, {**resource, "given_name": "Annette"}, format="json").status_code == 200
    resource = api.get(url).json()
    for name, value in (("id", 99), ("created_at", "2000-01-01T00:00:00Z")):
        refused = api.patch(url, {name: value, "family_name": "Meier"}, format="json")
        assert refused.status_code == 400 and refused.json()["error"]["field"] == name, refused.content
        assert "read-only" in refused.json()["error"]["message"]
    patient_a.refresh_from_db()
    assert patient_a.family_name == "Meyer"
    # the same moment written in another zone is the same value
    from datetime import datetime
    from zoneinfo import ZoneInfo

    created = datetime.fromisoformat(resource["created_at"].replace("Z", "+00:00"))
    elsewhere = created.astimezone(ZoneInfo("Asia/Tokyo")).isoformat()
    assert elsewhere != resource["created_at"]
    assert api.patch(url, {"created_at": elsewhere}, format="json").status_code == 200


def test_a_copy_read_before_anothers_change_is_412_not_a_read_only_error(api, patient_a):
    """A read-modify-write sends ``updated_at`` back as read: changed since, the copy is stale (412), as
    with If-Match; it had been 400 "read-only: it cannot be changed", though it was sent back as given."""
    url = f"{URL}/{patient_a.pk}"
    read = api.get(url).json()
    assert api.patch(url, {"given_name": "Anne"}, format="json").status_code == 200  # another system's change
    stale = api.patch(url, {**read, "mrn": "A-1001"}, format="json")
    assert stale.status_code == 412, stale.content
    error = stale.json()["error"]
    assert error["code"] == "precondition_failed" and error["field"] == "updated_at"
    patient_a.refresh_from_db()
    assert (patient_a.mrn, patient_a.given_name) == ("A-0001", "Anne")
    fresh = api.get(url).json()
    assert api.patch(url, {**fresh, "mrn": "A-1001"}, format="json").status_code == 200


def test_a_change_answers_the_tag_and_time_of_what_it_wrote(api, patient_a):
    """The next If-Match or If-Unmodified-Since without reading the patient again."""
    url = f"{URL}/{patient_a.pk}"
    read = api.get(url)
    assert read["Last-Modified"]
    changed = api.patch(url, {"given_name": "Anne"}, format="json", HTTP_IF_MATCH=read["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != read["ETag"]
    reread = api.get(url)
    assert changed["ETag"] == reread["ETag"] and changed["Last-Modified"] == reread["Last-Modified"]
    again = api.put(url, {"mrn": "A-0001", "family_name": "Meier"}, format="json", HTTP_IF_MATCH=changed["ETag"])
    assert again.status_code == 200 and again["ETag"] == api.get(url)["ETag"]
    assert api.patch(url, {"given_name": "X"}, format="json", HTTP_IF_MATCH=changed["ETag"]).status_code == 412
    unmodified = api.patch(url, {"given_name": "Y"}, format="json", HTTP_IF_UNMODIFIED_SINCE=again["Last-Modified"])
    assert unmodified.status_code == 200
    created = api.post(URL, {"mrn": "A-77", "family_name": "Lund"}, format="json")
    assert created.status_code == 201 and created["Last-Modified"] == api.get(created["Location"])["Last-Modified"]
