"""Content negotiation: a client that states no preference gets JSON without DRF's negotiation; every
stated preference is negotiated as before."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_json_when_the_client_accepts_it_or_says_nothing(api_as, staff_a, accept):
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = api_as(staff_a).get("/api/v1/patients", **extra)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "results" in response.json()


def test_a_media_type_no_renderer_writes_is_refused(api_as, staff_a):
    response = api_as(staff_a).get("/api/v1/patients", HTTP_ACCEPT="text/html")
    assert response.status_code == 406


@pytest.mark.parametrize("path", ["/api/v1/patients", "/api/v1/recordings/{pk}", "/api/v1/recordings/{pk}/export.csv"])
def test_an_unknown_format_parameter_is_not_acceptable_not_a_missing_resource(api_as, staff_a, done_recording, path):
    # DRF answered 404 "Not found.": an integration took the recording for deleted
    response = api_as(staff_a).get(path.format(pk=done_recording.pk), {"format": "xml"})
    assert response.status_code == 406 and response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "not_acceptable"
    # what is served instead: export.csv's own message names its one type
    assert "text/csv" in error["message"] if path.endswith(".csv") else "'xml'" in error["message"]


def test_the_fhir_view_negotiates_its_own_media_type(api_as, staff_a, done_recording):
    client = api_as(staff_a)
    url = f"/api/v1/recordings/{done_recording.pk}/fhir"
    assert client.get(url)["Content-Type"] == "application/json"  # its first renderer, as before
    response = client.get(url, HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")


def test_the_fhir_views_two_media_types_have_two_etags(api_as, staff_a, done_recording):
    # a cache revalidating one representation must not be told the other is unchanged
    client = api_as(staff_a)
    url = f"/api/v1/recordings/{done_recording.pk}/fhir"
    plain = client.get(url)
    fhir = client.get(url, HTTP_ACCEPT="application/fhir+json")
    assert plain.content == fhir.content and plain["ETag"] != fhir["ETag"]
    assert client.get(url, HTTP_ACCEPT="application/fhir+json", HTTP_IF_NONE_MATCH=plain["ETag"]).status_code == 200
    assert client.get(url, HTTP_ACCEPT="application/fhir+json", HTTP_IF_NONE_MATCH=fhir["ETag"]).status_code == 304
