"""Upload limits through the API (issue 16's hostile probe): refused with a JSON 4xx naming the limit."""

import pytest

from diagnostics.models import ECGRecording

from ..helpers import upload, xlsx_wide_row

pytestmark = pytest.mark.django_db


def test_the_xlsx_bomb_is_refused_through_the_api_too(api_as, staff_a, patient_a):
    response = api_as(staff_a).post(
        "/api/v1/recordings",
        {"patient": patient_a.pk, "kind": "beats", "file": upload("b.xlsx", xlsx_wide_row())},
        format="multipart",
    )
    assert response.status_code == 413, response.json()
    assert response.json()["error"]["code"] == "payload_too_large"
    assert "ECG_MAX_COLUMNS" in response.json()["error"]["message"]
    assert ECGRecording.objects.count() == 0


def test_an_api_json_body_nested_1100_deep_is_a_clear_400(api_as, staff_a, patient_a):
    body = '{"patient": %d, "kind": "beats", "beats": %s}' % (patient_a.pk, "[" * 1100 + "]" * 1100)
    response = api_as(staff_a).post("/api/v1/recordings", body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] == "parse_error"
    assert "nested more than 32 levels deep" in response.json()["error"]["message"]


def test_a_lead_name_longer_than_the_field_is_refused_through_the_api(api_as, staff_a, patient_a):
    from ecg.io.readers import read_wfdb

    from ..data import mitdb_dir

    values = [round(float(v), 3) for v in read_wfdb(mitdb_dir() / "100").leads["MLII"][: 10 * 360]]
    response = api_as(staff_a).post(
        "/api/v1/recordings",
        {"patient": patient_a.pk, "kind": "signal", "fs": 360, "leads": {"L" * 333: values}},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert "at most 32" in response.json()["error"]["message"]
    assert ECGRecording.objects.count() == 0
