"""The patient's diary marked where the rhythm is read: in the rhythm data the trend chart and the viewer draw from."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from diagnostics import diary, services
from diagnostics.models import DiaryEntry

from ..conftest import client_for
from .test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)

pytestmark = pytest.mark.django_db

FS = 360.0


def entry(recording, user, seconds: float, symptom: str = "palpitations", note: str = "") -> DiaryEntry:
    return services.diary_entry_add(recording=recording, by=user, sample=int(seconds * FS), symptom=symptom, note=note)


def test_the_rhythm_data_carries_the_diary_entries_not_removed(client, staff_a, holter_recording):  # noqa: F811
    late = entry(holter_recording, staff_a, 50, "dizziness", note="standing up")
    early = entry(holter_recording, staff_a, 12.5, "other", note="heart racing")
    gone = entry(holter_recording, staff_a, 30, "fatigue")
    services.diary_entry_remove(entry=gone, by=staff_a)
    data = client_for(client, staff_a).get(reverse("recording-rhythm", args=[holter_recording.pk])).json()
    assert data["diary"] == [
        {
            "id": early.pk,
            "sample": 4500,
            "symptom": "other",
            "label": "Other: heart racing",
            "said": "Other: heart racing",
            "at": "0:00:12",
        },
        {
            "id": late.pk,
            "sample": 18000,
            "symptom": "dizziness",
            "label": "Dizziness",
            "said": "Dizziness",
            "at": "0:00:50",
        },
    ]


def test_another_clinics_rhythm_data_is_404_diary_and_all(client, staff_a, staff_b, holter_recording):  # noqa: F811
    entry(holter_recording, staff_a, 50)
    response = client_for(client, staff_b).get(reverse("recording-rhythm", args=[holter_recording.pk]))
    assert response.status_code == 404 and b"diary" not in response.content


def test_a_full_diary_costs_the_rhythm_data_no_more_queries_than_one_entry(
    client,
    staff_a,
    holter_recording,  # noqa: F811
):
    url = reverse("recording-rhythm", args=[holter_recording.pk])
    staff = client_for(client, staff_a)
    entry(holter_recording, staff_a, 1)
    staff.get(url)  # the session and the user read once
    with CaptureQueriesContext(connection) as one:
        assert len(staff.get(url).json()["diary"]) == 1
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            recording=holter_recording,
            clinic_id=holter_recording.clinic_id,
            sample=i * 360,
            symptom="fatigue",
            entered_by=staff_a,
        )
        for i in range(2, DiaryEntry.MAX_PER_RECORDING + 1)
    )
    with CaptureQueriesContext(connection) as full:
        assert len(staff.get(url).json()["diary"]) == DiaryEntry.MAX_PER_RECORDING
    assert len(full.captured_queries) == len(one.captured_queries)


def test_a_long_note_is_shortened_on_its_mark_and_said_in_full(staff_a, holter_recording):  # noqa: F811
    note = "a flutter in the chest while climbing the stairs to the second floor"
    entry(holter_recording, staff_a, 20, "other", note=note)
    (mark,) = diary.marks(holter_recording)
    assert mark["said"] == f"Other: {note}"
    assert len(mark["label"]) == diary.MARK_LABEL_MAX and mark["label"].endswith("…")
    assert mark["said"].startswith(mark["label"][:-1])
