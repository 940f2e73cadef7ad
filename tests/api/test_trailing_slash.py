"""Every API route answers the same with or without a trailing slash (integration engines add one)."""

import re

import pytest

from api.urls import router
from diagnostics.models import BeatCorrection, Diagnosis, Review

from ..factories import done_recordings

pytestmark = pytest.mark.django_db


def test_every_api_route_accepts_a_trailing_slash(api_as, doctor_a, staff_a, clinic_a, active_models):
    recording = done_recordings(1, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)[0]
    diagnosis = Diagnosis.objects.get(recording=recording)
    ids = {
        "patient": recording.patient_id,
        "recording": recording.pk,
        "diagnosis": diagnosis.pk,
        "review": Review.objects.filter(diagnosis=diagnosis).first().pk,
        "model-version": active_models["heartbeat"].pk,
        "recording-diary": recording.pk,  # recordings/{pk}/diary/{entry_id} (DELETE alone: a GET is 405 both ways)
        "recording-beat": recording.pk,  # recordings/{pk}/beat-families, beat-corrections and beat-corrections/{id}
    }
    correction = BeatCorrection.objects.create(  # read whole at recordings/{pk}/beat-corrections/{correction_id}
        recording=recording, clinic=clinic_a, to_class="V", beat_indices=[0], previous={"N": [0]}, made_by=doctor_a
    )
    client = api_as(doctor_a)
    checked = 0
    for pattern in router.urls:
        route = pattern.pattern.regex.pattern
        path = "/api/v1/" + re.sub(r"\(\?P<pk>[^)]*\)", str(ids[pattern.name.rsplit("-", 1)[0]]), route)
        path = re.sub(r"\(\?P<correction_id>[^)]*\)", str(correction.pk), path)
        path = re.sub(r"\(\?P<(entry|activity)_id>[^)]*\)", "1", path)
        path = path.replace("^", "").replace("$", "").replace("\\.", ".")  # export\.csv
        assert "(" not in path and "\\" not in path, path
        without, with_slash = client.get(path), client.get(path + "/")
        assert with_slash.status_code != 404, path
        assert with_slash.status_code == without.status_code, path
        if without.status_code == 200 and without["Content-Type"].startswith("text/csv"):
            assert b"".join(with_slash.streaming_content) == b"".join(without.streaming_content), path
        elif without.status_code == 200:
            assert with_slash.json() == without.json(), path
        checked += 1
    assert checked == len(router.urls) >= 12


def test_a_post_with_a_trailing_slash_keeps_its_body(api_as, staff_a):
    response = api_as(staff_a).post("/api/v1/patients/", {"mrn": "SLASH-1", "family_name": "Slash"}, format="json")
    assert response.status_code == 201 and response.json()["mrn"] == "SLASH-1"


def test_an_unknown_path_with_a_slash_is_still_404(api_as, staff_a):
    response = api_as(staff_a).get("/api/v1/nothing/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
