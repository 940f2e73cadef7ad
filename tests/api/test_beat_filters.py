"""recordings/{id}/beats narrowed to classes and to a stretch of samples: an integration reads the V beats of
a 24-hour recording, or the beats of one event, without paging through every beat."""

import pytest

from tests.diagnostics.test_beat_table import FS, aami_class_of, known_beats_recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def holter(clinic_a, staff_a, patient_a, active_models):
    return known_beats_recording(clinic_a, staff_a, patient_a, active_models)


def beats(api, recording, **params):
    response = api.get(f"/api/v1/recordings/{recording.pk}/beats", {"page_size": 1000, **params})
    assert response.status_code == 200, response.content
    return response.json()


def test_only_the_classes_asked_for(api_as, staff_a, holter):
    api = api_as(staff_a)
    v = beats(api, holter, aami_class="V")
    assert v["count"] == 60 and {b["aami_class"] for b in v["results"]} == {"V"}
    assert [b["index"] for b in v["results"]][:3] == [3, 13, 23]
    both = beats(api, holter, aami_class="V,S")
    assert both["count"] == 90 and {b["aami_class"] for b in both["results"]} == {"V", "S"}
    assert [b["index"] for b in both["results"]] == sorted(b["index"] for b in both["results"])  # in order
    assert beats(api, holter, aami_class="Q")["count"] == 0
    assert beats(api, holter, aami_class="v,s")["count"] == 90  # either case, as the page takes it


def test_the_beats_of_a_stretch_ends_included(api_as, staff_a, holter):
    api = api_as(staff_a)
    stretch = beats(api, holter, start=int(10 * FS), end=int(20 * FS))
    assert [b["index"] for b in stretch["results"]] == list(range(10, 21))
    assert [b["aami_class"] for b in stretch["results"]] == [aami_class_of(i) for i in range(10, 21)]
    assert beats(api, holter, start=int(590 * FS))["count"] == 10
    assert beats(api, holter, end=int(FS) - 1)["count"] == 1
    assert [b["index"] for b in beats(api, holter, start=0, end=int(40 * FS), aami_class="V")["results"]] == [
        3,
        13,
        23,
        33,
    ]


@pytest.mark.parametrize(
    ("params", "name", "says"),
    [
        ({"aami_class": "X"}, "aami_class", "Unknown beat class 'X'"),
        ({"aami_class": "V,x"}, "aami_class", "Unknown beat class 'x'"),
        ({"start": "-1"}, "start", "positive whole number"),
        ({"end": "ten"}, "end", "positive whole number"),
        ({"start": "100", "end": "99"}, "end", "99 is before start (100)"),
    ],
)
def test_a_filter_it_cannot_follow_is_400_naming_it(api_as, staff_a, holter, params, name, says):
    response = api_as(staff_a).get(f"/api/v1/recordings/{holter.pk}/beats", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == name and says in error["message"]


def test_a_beat_file_has_no_samples_to_narrow_by(api_as, staff_a, done_recording):
    api = api_as(staff_a)
    response = api.get(f"/api/v1/recordings/{done_recording.pk}/beats", {"start": 0})
    error = response.json()["error"]
    assert response.status_code == 400 and error["field"] == "start" and "beat rows, not a signal" in error["message"]
    assert beats(api, done_recording, aami_class="N,S,V,F,Q")["count"] == done_recording.diagnosis.beat_count


def test_another_clinics_recording_stays_404(api_as, staff_b, holter):
    assert api_as(staff_b).get(f"/api/v1/recordings/{holter.pk}/beats", {"aami_class": "V"}).status_code == 404
