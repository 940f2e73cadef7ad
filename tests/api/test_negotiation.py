"""Content negotiation: a client that states no preference gets JSON without DRF's negotiation; a stated
preference is negotiated by its q-values (q=0 is not acceptable; the highest q wins)."""

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


@pytest.mark.parametrize(
    "accept",
    [
        "application/json;q=0",
        "application/json; q=0.000",
        "*/*;q=0",
        "application/json;q=0, */*",  # the more specific range decides (RFC 9110 12.5.1)
        "application/*;q=0, */*;q=0.5",
    ],
)
def test_a_media_type_refused_with_q_0_is_not_acceptable(api_as, staff_a, accept):
    # DRF went by the ranges' specificity and ignored q: "application/json;q=0" was answered JSON
    response = api_as(staff_a).get("/api/v1/patients", HTTP_ACCEPT=accept)
    assert response.status_code == 406 and response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_acceptable"


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/json;q=0.5, application/fhir+json", "application/fhir+json"),
        ("application/fhir+json;q=0.2, application/json;q=0.9", "application/json"),
        ("application/fhir+json;q=0, */*", "application/json"),
        ("application/json;q=0, */*;q=0.1", "application/fhir+json"),
        ("*/*;q=0.1, application/fhir+json;q=0.5", "application/fhir+json"),
        ("application/json, application/fhir+json", "application/json"),  # equal: the route's first, as before
    ],
)
def test_the_highest_q_of_the_acceptable_types_wins(api_as, staff_a, done_recording, accept, content_type):
    response = api_as(staff_a).get(f"/api/v1/recordings/{done_recording.pk}/fhir", HTTP_ACCEPT=accept)
    assert response.status_code == 200 and response["Content-Type"] == content_type
    assert response.json()["resourceType"] == "Bundle"


def test_a_csv_export_refused_with_q_0_is_not_acceptable_whatever_else_is(api_as, staff_a, done_recording):
    url = f"/api/v1/recordings/{done_recording.pk}/export.csv"
    client = api_as(staff_a)
    for accept in ("text/csv;q=0, */*", "text/*;q=0, application/json"):
        response = client.get(url, HTTP_ACCEPT=accept)
        assert response.status_code == 406 and response.json()["error"]["code"] == "not_acceptable", accept
    assert client.get(url, HTTP_ACCEPT="application/json;q=1, text/csv;q=0.1")["Content-Type"].startswith("text/csv")


def test_an_indented_answer_is_still_asked_for_with_its_parameter(api_as, staff_a, patient_a):
    response = api_as(staff_a).get("/api/v1/patients", HTTP_ACCEPT="application/json; indent=2; q=0.9")
    assert response.status_code == 200 and b'\n  "count"' in response.content
