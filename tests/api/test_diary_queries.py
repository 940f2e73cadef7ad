"""The rhythm at a diary's moments is read at once: the pages, the report, the CSV, FHIR and the API cost the same
number of queries for a full diary as for a few entries (they had cost four queries an entry, 240 for a full one)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from diagnostics import diary
from diagnostics.models import DiaryEntry

from ..conftest import client_for
from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)

pytestmark = pytest.mark.django_db

FS = 360.0


def _entries(recording, user, seconds: list[float]) -> None:
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            recording=recording, clinic=recording.clinic, sample=int(s * FS), symptom="dizziness", entered_by=user
        )
        for s in seconds
    )


def _counts(web, api, recording) -> dict[str, int]:
    urls = {
        "page": (web, reverse("recording-detail", args=[recording.pk])),
        "report": (web, reverse("recording-report", args=[recording.pk])),
        "csv": (web, reverse("recording-export", args=[recording.pk])),
        "api diary": (api, f"/api/v1/recordings/{recording.pk}/diary"),
        "fhir": (api, f"/api/v1/recordings/{recording.pk}/fhir"),
    }
    out = {}
    for name, (client, url) in urls.items():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
            if response.streaming:
                b"".join(response.streaming_content)
        assert response.status_code == 200, (name, response.status_code)
        out[name] = len(queries.captured_queries)
    return out


def test_a_diary_of_9_entries_costs_the_queries_of_one_of_3(client, api_as, staff_a, holter_recording):  # noqa: F811
    web, api = client_for(client, staff_a), api_as(staff_a)
    api.get("/api/v1/patients")  # the token's first use is written down once: not a cost of the diary
    _entries(holter_recording, staff_a, [5, 30, 50])  # before the VF, among its runs, inside the VF
    few = _counts(web, api, holter_recording)
    _entries(holter_recording, staff_a, [1, 12, 20, 44, 58, 66])
    many = _counts(web, api, holter_recording)
    assert many == few


def test_the_rhythm_at_moments_read_at_once_is_that_at_each_read_alone(holter_recording):  # noqa: F811
    rhythm = holter_recording.diagnosis.rhythm
    samples = [int(s * FS) for s in (50, 5, 44, 50, 30, 66, 0)]  # out of order, one twice
    together = diary.rhythms_at(holter_recording, samples, rhythm)
    alone = [diary.rhythm_at(holter_recording, sample, rhythm) for sample in samples]
    assert together == alone
    assert any(found["during"] for found in together) and any(found["near"] for found in together)
