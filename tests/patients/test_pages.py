import pytest
from django.urls import reverse

from patients.models import Patient

from ..conftest import client_for
from ..factories import PatientFactory
from ..helpers import beat_recording


@pytest.mark.django_db
def test_every_page_requires_login(client, patient_a):
    for url in [
        reverse("dashboard"),
        reverse("patient-list"),
        reverse("patient-detail", args=[patient_a.pk]),
        reverse("review-queue"),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url


@pytest.mark.django_db
def test_a_user_logs_in_and_out(client, staff_a):
    response = client.post(reverse("login"), {"username": "staff_a", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("dashboard")).status_code == 302


@pytest.mark.django_db
def test_a_wrong_password_is_refused(client, staff_a):
    response = client.post(reverse("login"), {"username": "staff_a", "password": "wrong"})
    assert response.status_code == 200 and "didn't match" in response.content.decode()


@pytest.mark.django_db
def test_the_list_searches_by_mrn_and_name_within_the_clinic(client, staff_a, clinic_a, clinic_b):
    PatientFactory(clinic=clinic_a, mrn="A-7", family_name="Okafor", given_name="Daniel")
    PatientFactory(clinic=clinic_a, mrn="A-8", family_name="Meyer", given_name="Anna")
    PatientFactory(clinic=clinic_b, mrn="B-7", family_name="Okafor", given_name="Other")
    client_for(client, staff_a)
    page = client.get(reverse("patient-list"), {"q": "okafor"}).content.decode()
    assert "A-7" in page and "A-8" not in page and "B-7" not in page
    page = client.get(reverse("patient-list"), {"q": "A-8"}).content.decode()
    assert "Meyer" in page and "Okafor" not in page
    # the name as the pages write it; a NUL among the terms (refused by PostgreSQL in a string) is no 500
    for q in ("Meyer, Anna", "Meyer;Anna", "Meyer\x00Anna"):
        response = client.get(reverse("patient-list"), {"q": q})
        assert (
            response.status_code == 200
            and "A-8" in response.content.decode()
            and "A-7" not in response.content.decode()
        )


@pytest.mark.django_db
def test_the_list_is_paginated(client, staff_a, clinic_a):
    for i in range(30):
        PatientFactory(clinic=clinic_a, family_name=f"Name{i:02d}")
    client_for(client, staff_a)
    first = client.get(reverse("patient-list")).content.decode()
    second = client.get(reverse("patient-list"), {"page": 2}).content.decode()
    assert "Page 1 of 2" in first and "Page 2 of 2" in second
    assert "Name29" in second and "Name29" not in first


@pytest.mark.django_db
def test_staff_create_and_edit_a_patient(client, staff_a):
    client_for(client, staff_a)
    response = client.post(
        reverse("patient-create"),
        {
            "mrn": " X-1 ",
            "family_name": "Nakamura",
            "given_name": "Yui",
            "date_of_birth": "1970-02-03",
            "sex": "female",
        },
    )
    patient = Patient.objects.get()
    assert response["Location"] == reverse("patient-detail", args=[patient.pk])
    assert (patient.mrn, patient.clinic, patient.created_by) == ("X-1", staff_a.clinic, staff_a)
    client.post(
        reverse("patient-edit", args=[patient.pk]),
        {"mrn": "X-1", "family_name": "Nakamura-Ito", "date_of_birth": "1970-02-03", "sex": "female"},
    )
    patient.refresh_from_db()
    assert patient.family_name == "Nakamura-Ito"
    page = client.get(reverse("patient-detail", args=[patient.pk])).content.decode()
    assert "Nakamura-Ito" in page and "No recordings yet" in page
    assert "1970-02-03" in page  # as every other page writes dates
    assert "1970-02-03" in client.get(reverse("patient-list")).content.decode()


@pytest.mark.django_db
def test_a_colleagues_save_since_the_form_was_opened_is_not_undone_unseen(client, staff_a, doctor_a, patient_a):
    # Two edit forms open on one patient: the second save had silently put back what the first had changed
    import re

    from django.test import Client

    def opened(who) -> tuple[Client, dict]:
        browser = client_for(Client(), who)
        page = browser.get(reverse("patient-edit", args=[patient_a.pk])).content.decode()
        (version,) = re.findall(r'name="version" value="([^"]+)"', page)
        fields = {"mrn": patient_a.mrn, "family_name": patient_a.family_name, "given_name": patient_a.given_name}
        return browser, fields | {
            "date_of_birth": str(patient_a.date_of_birth or ""),
            "sex": patient_a.sex,
            "version": version,
        }

    (first, first_form), (second, second_form) = opened(staff_a), opened(doctor_a)
    url = reverse("patient-edit", args=[patient_a.pk])
    assert first.post(url, first_form | {"given_name": "Changed"}).status_code == 302
    refused = second.post(url, second_form | {"date_of_birth": "1960-01-02"})
    assert refused.status_code == 409
    page = refused.content.decode()
    assert "Someone else saved this patient since you opened the form" in page
    assert "given name (saved: “Changed”)" in page and 'value="1960-01-02"' in page  # theirs named, yours kept
    assert f"<h1>Edit {patient_a.family_name}, Changed</h1>" in page  # the heading names the patient as saved
    patient_a.refresh_from_db()
    assert patient_a.given_name == "Changed" and str(patient_a.date_of_birth) != "1960-01-02"
    # sent again from the page shown, it is saved: the form now holds the version it showed
    (version,) = re.findall(r'name="version" value="([^"]+)"', page)
    again = second_form | {"given_name": "Changed", "date_of_birth": "1960-01-02", "version": version}
    assert second.post(url, again).status_code == 302
    patient_a.refresh_from_db()
    assert (patient_a.given_name, str(patient_a.date_of_birth)) == ("Changed", "1960-01-02")


@pytest.mark.django_db
def test_a_duplicate_mrn_in_the_clinic_is_refused(client, staff_a, patient_a):
    client_for(client, staff_a)
    response = client.post(reverse("patient-create"), {"mrn": patient_a.mrn, "family_name": "Other", "sex": "unknown"})
    assert response.status_code == 400 and "medical record number" in response.content.decode()
    assert Patient.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "born, message", [("2999-01-01", "The date of birth is in the future."), ("1850-06-01", "before 1900")]
)
def test_a_date_of_birth_no_living_patient_has_is_refused_as_the_api_refuses_it(
    client, staff_a, patient_a, born, message
):
    client_for(client, staff_a)
    body = {"mrn": "X-2", "family_name": "Later", "date_of_birth": born, "sex": "unknown"}
    response = client.post(reverse("patient-create"), body)
    assert response.status_code == 400 and message in response.content.decode()
    assert not Patient.objects.filter(mrn="X-2").exists()
    edit = client.post(reverse("patient-edit", args=[patient_a.pk]), {**body, "mrn": patient_a.mrn})
    assert edit.status_code == 400 and message in edit.content.decode()
    patient_a.refresh_from_db()
    assert patient_a.family_name != "Later"


@pytest.mark.django_db
def test_the_same_mrn_is_allowed_in_another_clinic(client, staff_b, patient_a):
    client_for(client, staff_b)
    client.post(reverse("patient-create"), {"mrn": patient_a.mrn, "family_name": "Other", "sex": "unknown"})
    assert Patient.objects.filter(mrn=patient_a.mrn).count() == 2


@pytest.mark.django_db
def test_a_user_of_clinic_b_gets_404_for_clinic_a_pages(client, staff_b, staff_a, patient_a, active_models):

    recording = beat_recording(staff_a, patient_a, beats=3)
    client_for(client, staff_b)
    urls = [
        reverse("patient-detail", args=[patient_a.pk]),
        reverse("patient-edit", args=[patient_a.pk]),
        reverse("recording-upload", args=[patient_a.pk]),
        reverse("recording-detail", args=[recording.pk]),
        reverse("recording-status", args=[recording.pk]),
        reverse("recording-beats", args=[recording.pk]),
        reverse("beat-plot", args=[recording.pk, 0]),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert (
        client.post(
            reverse("patient-edit", args=[patient_a.pk]), {"mrn": "x", "family_name": "y", "sex": "male"}
        ).status_code
        == 404
    )
    assert "No patients match" in client.get(reverse("patient-list"), {"q": "Meyer"}).content.decode()


@pytest.mark.django_db
def test_form_help_and_errors_are_tied_to_their_fields(client, staff_a):
    """Every id a field's aria-describedby names is on the page: its help text and its errors (the
    widgets named ids no element had)."""
    import re

    client_for(client, staff_a)
    for page in (
        client.get(reverse("patient-create")).content.decode(),
        client.post(
            reverse("patient-create"), {"mrn": "", "family_name": "", "date_of_birth": "2999-01-01"}
        ).content.decode(),
    ):
        described = [i for ids in re.findall(r'aria-describedby="([^"]+)"', page) for i in ids.split()]
        assert all(f'id="{i}"' in page for i in described), described
    assert "id_date_of_birth_error" in described and 'id="id_date_of_birth_error"' in page
