"""API answers are gzip-compressed for a client that accepts it, and their ETags still revalidate; the
staff pages are not compressed (their CSRF token sits beside what a user typed)."""

import gzip
import json

import pytest

from .test_export_csv import body, url

pytestmark = pytest.mark.django_db

GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate"}


def test_a_fhir_bundle_is_compressed_and_reads_the_same(api_as, staff_a, done_recording):
    client = api_as(staff_a)
    fhir = f"/api/v1/recordings/{done_recording.pk}/fhir"
    plain = client.get(fhir)
    packed = client.get(fhir, **GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain and packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    assert len(packed.content) < len(plain.content) / 2
    assert json.loads(gzip.decompress(packed.content)) == plain.json()


@pytest.mark.parametrize(
    ("accept_encoding", "gzipped"),
    [
        ("gzip;q=0", False),
        ("deflate, gzip; q=0.0", False),
        ("GZIP;Q=0", False),
        ("gzip;q=0.5", True),
        ("x, gzip", True),
    ],
)
def test_gzip_refused_with_q_0_is_not_sent(api_as, staff_a, done_recording, accept_encoding, gzipped):
    # RFC 9110 12.5.3: q=0 means not acceptable; Django's middleware looked for the word alone
    response = api_as(staff_a).get(f"/api/v1/recordings/{done_recording.pk}/fhir", HTTP_ACCEPT_ENCODING=accept_encoding)
    assert response.status_code == 200 and (response.get("Content-Encoding") == "gzip") is gzipped
    assert "Accept-Encoding" in response["Vary"]
    assert json.loads(gzip.decompress(response.content) if gzipped else response.content)["resourceType"] == "Bundle"


def test_a_compressed_answers_weak_etag_revalidates_and_guards_a_change(api_as, staff_a, patient_a):
    # Django compresses a body of 200 bytes or more, and only where the result (its header carries up to 100 random
    # bytes against BREACH) is shorter: long, repetitive names make sure of it
    type(patient_a).objects.filter(pk=patient_a.pk).update(given_name="Anna Maria " * 13, family_name="Meyer " * 24)
    client = api_as(staff_a)
    patient = f"/api/v1/patients/{patient_a.pk}"
    packed = client.get(patient, **GZIP)
    assert packed.get("Content-Encoding") == "gzip", len(packed.content)
    tag = packed["ETag"]
    assert tag == f"W/{client.get(patient)['ETag']}"  # the same tag, marked weak when compressed
    not_modified = client.get(patient, HTTP_IF_NONE_MATCH=tag, **GZIP)
    # a 304 carries the ETag and Vary of the answer the client holds (RFC 9110 15.4.5)
    assert not_modified.status_code == 304 and not_modified["ETag"] == tag and "Accept-Encoding" in not_modified["Vary"]
    plain = client.get(patient, HTTP_IF_NONE_MATCH=tag.removeprefix("W/"))
    assert plain.status_code == 304 and plain["ETag"] == tag.removeprefix("W/")
    changed = client.patch(patient, {"given_name": "Ada"}, format="json", HTTP_IF_MATCH=tag)
    assert changed.status_code == 200, changed.content
    assert client.patch(patient, {"given_name": "Eve"}, format="json", HTTP_IF_MATCH=tag).status_code == 412


def test_a_list_page_and_the_streamed_csv_are_compressed(api_as, staff_a, done_recording):
    client = api_as(staff_a)
    page = client.get("/api/v1/recordings", **GZIP)
    assert page["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(page.content))["results"][0]["id"] == done_recording.pk
    csv = client.get(url(done_recording.pk), **GZIP)
    assert csv.status_code == 200 and csv["Content-Encoding"] == "gzip"
    assert gzip.decompress(body(csv)) == body(client.get(url(done_recording.pk)))


def test_the_staff_pages_are_not_compressed(client, staff_a, done_recording):
    client.force_login(staff_a)
    for path in (f"/recordings/{done_recording.pk}/", "/patients/", f"/recordings/{done_recording.pk}/export.csv"):
        response = client.get(path, **GZIP)
        assert response.status_code == 200, path
        assert "Content-Encoding" not in response, path
