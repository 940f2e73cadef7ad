"""A hospital's sync job pages the recordings changed since its last run (``updated_after``, ``ordering=updated_at``):
it sees every change of a recording after its upload, its analysis finishing, a move, a signature, a doctor's
decision, which paging by ``created_at`` never showed it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django.utils.http import http_date

from diagnostics import services
from diagnostics.models import ECGRecording, Event

from ..factories import PatientFactory
from .conftest import submit_beats
from .test_recordings import ecg_like

pytestmark = pytest.mark.django_db
URL = "/api/v1/recordings"
T = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


@pytest.fixture
def api(api_as, staff_a):
    return api_as(staff_a)


@pytest.fixture
def stamped(staff_a, patient_a):
    """Four recordings of clinic A changed at T - 1 day, T - 1 s, T and T + 1 s, made in the other order."""
    made = [submit_beats(staff_a, patient_a) for _ in range(4)]
    for recording, when in zip(made, (T + timedelta(seconds=1), T, T - timedelta(seconds=1), T - timedelta(days=1))):
        ECGRecording.objects.filter(pk=recording.pk).update(updated_at=when)
    return made[::-1]  # in the order changed


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_a_recording_says_when_it_last_changed_and_its_answers_say_it_in_last_modified(api, patient_a):
    created = api.post(URL, {"patient": patient_a.pk, "kind": "beats", "beats": [[0.5] * 187] * 3}, format="json")
    assert created.status_code == 201, created.content
    recording = ECGRecording.objects.get()
    read = api.get(f"{URL}/{recording.pk}")
    assert read.json()["updated_at"] == iso(recording.updated_at) == created.json()["updated_at"]
    assert read["Last-Modified"] == created["Last-Modified"] == http_date(recording.updated_at.timestamp())
    (row,) = api.get(URL).json()["results"]
    assert row["updated_at"] == read.json()["updated_at"]


def test_the_updated_bounds_are_inclusive_to_the_microsecond(api, stamped):
    assert ids(api.get(URL, {"updated_after": iso(T), "ordering": "updated_at"})) == [r.pk for r in stamped[2:]]
    assert ids(api.get(URL, {"updated_before": iso(T), "ordering": "updated_at"})) == [r.pk for r in stamped[:3]]
    assert ids(api.get(URL, {"updated_after": iso(T), "updated_before": iso(T)})) == [stamped[2].pk]
    just_after = iso(T + timedelta(microseconds=1))
    assert ids(api.get(URL, {"updated_after": just_after})) == [stamped[3].pk]


def test_a_day_alone_bounds_the_whole_day_as_created_after_and_before_do(api, stamped, settings):
    settings.TIME_ZONE = "UTC"  # a date alone is read in TIME_ZONE
    day = T.date().isoformat()
    assert ids(api.get(URL, {"updated_after": day, "updated_before": day, "ordering": "updated_at"})) == [
        r.pk for r in stamped[1:]
    ]
    assert ids(api.get(URL, {"updated_before": (T - timedelta(days=1)).date().isoformat()})) == [stamped[0].pk]


def test_an_offset_is_honoured(api, stamped):
    at_two = (T + timedelta(hours=2)).replace(tzinfo=None).isoformat() + "+02:00"  # T, written two hours east
    assert ids(api.get(URL, {"updated_after": at_two, "updated_before": at_two})) == [stamped[2].pk]


@pytest.mark.parametrize("name", ["updated_after", "updated_before"])
@pytest.mark.parametrize("value", ["yesterday", "2025-13-01", "2025-03-04T25:00", "2025-03-04T05:06:07+99:00"])
def test_a_malformed_time_is_400_naming_the_parameter_as_for_created_after(api, name, value):
    response = api.get(URL, {name: value})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == name
    created = api.get(URL, {"created_after": value}).json()["error"]
    assert error["message"] == created["message"] == "Expected a date (YYYY-MM-DD) or an ISO 8601 date-time."


@pytest.mark.parametrize("name", ["updated_after", "updated_before", "ordering"])
def test_an_empty_value_is_refused_naming_it(api, name):
    response = api.get(URL, {name: " "})
    assert response.status_code == 400 and response.json()["error"]["field"] == name


def test_another_clinics_recordings_never_appear(api, api_as, staff_b, patient_b, stamped):
    theirs = submit_beats(staff_b, patient_b)
    ECGRecording.objects.filter(pk=theirs.pk).update(updated_at=T)
    query = {"updated_after": iso(T - timedelta(days=2)), "ordering": "updated_at"}
    assert theirs.pk not in ids(api.get(URL, query)) and len(ids(api.get(URL, query))) == 4
    assert ids(api_as(staff_b).get(URL, query)) == [theirs.pk]


def test_the_rows_come_in_the_order_asked_with_ties_in_order_of_id(api, stamped):
    ECGRecording.objects.filter(pk=stamped[1].pk).update(updated_at=T)  # two at T now
    tied = sorted([stamped[1].pk, stamped[2].pk])
    assert ids(api.get(URL, {"ordering": "updated_at"})) == [stamped[0].pk, *tied, stamped[3].pk]
    assert ids(api.get(URL, {"ordering": "-updated_at"})) == [stamped[3].pk, *tied[::-1], stamped[0].pk]
    newest_made = sorted((r.pk for r in stamped), reverse=True)
    assert ids(api.get(URL)) == ids(api.get(URL, {"ordering": "-created_at"})) == newest_made
    assert ids(api.get(URL, {"ordering": "created_at"})) == newest_made[::-1]
    refused = api.get(URL, {"ordering": "id"})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "ordering"
    assert "updated_at" in refused.json()["error"]["message"]


def test_a_sync_job_sees_each_change_as_the_schema_says_to_page(
    api, api_as, doctor_a, staff_a, patient_a, clinic_a, active_models
):
    """From the latest updated_at seen, inclusive, a page at a time, each id kept once: a recording changed while
    the job pages comes again, with the change; none is skipped."""
    made = [submit_beats(staff_a, patient_a) for _ in range(5)]
    for i, recording in enumerate(made):
        ECGRecording.objects.filter(pk=recording.pk).update(updated_at=T + timedelta(seconds=i))
    seen: dict[int, dict] = {}
    cursor = iso(T - timedelta(days=1))
    pages = 0
    while True:
        rows = api.get(URL, {"updated_after": cursor, "ordering": "updated_at", "page_size": 2}).json()["results"]
        new = [row for row in rows if seen.get(row["id"]) != row]
        seen.update({row["id"]: row for row in rows})
        pages += 1
        if pages == 1:  # meanwhile a doctor moves the first recording, which the job has seen already
            services.recording_move(
                recording=made[0], patient=PatientFactory(clinic=clinic_a), by=doctor_a, reason="Wrong patient."
            )
        if not new:
            break
        cursor = rows[-1]["updated_at"]
    assert set(seen) == {r.pk for r in made}
    assert seen[made[0].pk]["patient"] != patient_a.pk  # the move came in a later page
    assert pages <= 6


@pytest.mark.parametrize("path", ["read in one statement", "read by the ORM"])
def test_recordings_of_one_instant_come_each_once_newest_made_first_across_pages(api, staff_a, patient_a, path):
    # a batch uploaded at once: without a tie-break, rows of one created_at had come in either order page to page
    made = [submit_beats(staff_a, patient_a) for _ in range(4)]
    ECGRecording.objects.filter(pk__in=[r.pk for r in made]).update(created_at=T)
    headers = {"HTTP_IF_NONE_MATCH": '"another"'} if path == "read by the ORM" else {}  # no one-statement read
    pages = [ids(api.get(URL, {"page_size": 1, "page": page}, **headers)) for page in range(1, 5)]
    assert pages == [[r.pk] for r in sorted(made, key=lambda r: -r.pk)]
    assert ids(api.get(URL, **headers)) == ids(api.get(URL, {"ordering": "-created_at"}, **headers))


def test_a_reviewers_rename_brings_the_recordings_naming_them_into_the_changes_since_the_last_run(
    api, client, admin_a, doctor_a, done_recording
):
    # the recording shows its reviewer's name (diagnosis.latest_review): a rename changes it, and its ETag with it
    services.review_create(user=doctor_a, diagnosis=done_recording.diagnosis, decision="confirm")
    url = f"{URL}/{done_recording.pk}"
    ECGRecording.objects.filter(pk=done_recording.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    before = api.get(url)
    last_run = iso(timezone.now() - timedelta(minutes=1))
    assert ids(api.get(URL, {"updated_after": last_run, "ordering": "updated_at"})) == []
    client.force_login(admin_a)
    form = {"username": doctor_a.username, "first_name": "Dora", "last_name": "Renamed", "email": "", "role": "doctor"}
    form |= {"clinic": doctor_a.clinic_id, "is_active": "on"}
    assert client.post(f"/admin/accounts/user/{doctor_a.pk}/change/", form).status_code == 302
    after = api.get(url)
    assert after.json()["diagnosis"]["latest_review"]["reviewer_name"] == "Dora Renamed"
    assert after["ETag"] != before["ETag"] and after.json()["updated_at"] > before.json()["updated_at"]
    assert ids(api.get(URL, {"updated_after": last_run, "ordering": "updated_at"})) == [done_recording.pk]
    # a change that names no one otherwise (an e-mail address) leaves it
    ECGRecording.objects.filter(pk=done_recording.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    form["email"] = "dora@example.org"
    assert client.post(f"/admin/accounts/user/{doctor_a.pk}/change/", form).status_code == 302
    assert ids(api.get(URL, {"updated_after": last_run, "ordering": "updated_at"})) == []


def test_a_rename_made_outside_the_admin_brings_them_in_too(api, doctor_a, done_recording):
    # only the admin's form had stamped them: a rename by a command or a shell left a sync job with the old name
    services.review_create(user=doctor_a, diagnosis=done_recording.diagnosis, decision="confirm")
    ECGRecording.objects.filter(pk=done_recording.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    last_run = iso(timezone.now() - timedelta(minutes=1))
    doctor_a.last_login = timezone.now()
    doctor_a.save(update_fields=["last_login"])  # a login: no name changed
    doctor_a.email = "dora@example.org"
    doctor_a.save()  # a whole save that changes no name
    assert ids(api.get(URL, {"updated_after": last_run, "ordering": "updated_at"})) == []
    doctor_a.last_name = "Renamed"
    doctor_a.save()
    assert ids(api.get(URL, {"updated_after": last_run, "ordering": "updated_at"})) == [done_recording.pk]


def test_each_write_brings_the_recording_into_the_changes_since_the_last_run(
    api, api_as, doctor_a, staff_a, patient_a, clinic_a, active_models
):
    doctor = api_as(doctor_a)
    recording = submit_beats(staff_a, patient_a)

    def changed_since(last: str) -> dict | None:
        rows = api.get(URL, {"updated_after": last, "ordering": "updated_at"}).json()["results"]
        assert [row["id"] for row in rows] in ([], [recording.pk])
        return rows[0] if rows else None

    def run(write) -> None:
        last = api.get(f"{URL}/{recording.pk}").json()["updated_at"]
        ECGRecording.objects.filter(pk=recording.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
        later = iso(timezone.now() - timedelta(minutes=1))
        assert changed_since(later) is None
        write()
        row = changed_since(later)
        assert row is not None and datetime.fromisoformat(row["updated_at"]) > datetime.fromisoformat(last), write

    run(lambda: services.recording_classify(recording_id=recording.pk, claim_token="t1"))
    assert api.get(f"{URL}/{recording.pk}").json()["status"] == "done"
    url = f"{URL}/{recording.pk}"
    run(lambda: doctor.post(f"{url}/interpretations", {"text": "Sinus rhythm."}, format="json"))
    diagnosis = ECGRecording.objects.get(pk=recording.pk).diagnosis
    run(lambda: doctor.post("/api/v1/reviews", {"diagnosis": diagnosis.pk, "decision": "confirm"}, format="json"))
    event = Event.objects.create(recording=recording, clinic=clinic_a, type="vt", start=100, end=900, beats=4)
    run(lambda: services.event_review_create(user=doctor_a, event=event, decision="confirm"))
    other = PatientFactory(clinic=clinic_a)
    run(lambda: doctor.post(f"{url}/move", {"patient": other.pk, "reason": "Wrong patient."}, format="json"))


def test_naming_the_leads_of_a_recording_stored_without_them_stamps_it(api, patient_a):
    response = api.post(
        URL, {"patient": patient_a.pk, "kind": "signal", "fs": 360, "signal": ecg_like()}, format="json"
    )
    assert response.status_code == 201, response.content
    old = T - timedelta(days=300)
    ECGRecording.objects.update(leads=[], updated_at=old)  # as large uploads were stored before their names were kept
    assert services.recordings_fill_lead_names() == (1, [])
    assert ECGRecording.objects.get().updated_at > old


def test_an_offset_whose_plus_arrived_as_a_space_is_read_as_the_offset(api, stamped, settings):
    """A sync job puts the ``updated_at`` it read (``…+01:00`` where TIME_ZONE is not UTC) into its next URL as it
    is: an unencoded ``+`` in a query string is a space, and that was a 400 for the value the API itself wrote."""
    settings.TIME_ZONE = "Europe/Berlin"
    written = api.get(f"{URL}/{stamped[2].pk}").json()["updated_at"]
    assert written == "2025-03-04T06:06:07.123456+01:00"
    assert ids(api.get(f"{URL}?updated_after={written}&updated_before={written}")) == [stamped[2].pk]
    assert ids(api.get(f"{URL}?updated_after=2025-03-04 06:06:07.123456 01:00")) == [r.pk for r in stamped[2:]]


@pytest.mark.parametrize("name", ["updated_after", "created_before"])
def test_a_time_without_offset_that_the_zone_skips_is_400_asking_for_the_offset(api, name, settings):
    """29 March 2026: Berlin's clocks go from 02:00 to 03:00; 02:30 there names no moment (it had been taken as
    03:30, with no word)."""
    settings.TIME_ZONE = "Europe/Berlin"
    response = api.get(URL, {name: "2026-03-29T02:30:00"})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == name
    assert error["message"] == (
        "2026-03-29T02:30:00 is no time in Europe/Berlin (its clocks skip it): give the date-time with its offset "
        "from UTC (…+01:00 or …Z)."
    )


def test_a_time_without_offset_that_the_zone_repeats_bounds_inclusively(api, staff_a, patient_a, settings):
    """25 October 2026: Berlin's clocks go back from 03:00 to 02:00, so 02:30 comes twice (00:30 and 01:30 UTC). An
    inclusive bound takes the reading that leaves nothing out: ``after`` the first, ``before`` the second."""
    settings.TIME_ZONE = "Europe/Berlin"
    first, second = (submit_beats(staff_a, patient_a) for _ in range(2))
    ECGRecording.objects.filter(pk=first.pk).update(updated_at=datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    ECGRecording.objects.filter(pk=second.pk).update(updated_at=datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    both = [first.pk, second.pk]
    assert ids(api.get(URL, {"updated_after": "2026-10-25T02:30:00", "ordering": "updated_at"})) == both
    assert ids(api.get(URL, {"updated_before": "2026-10-25T02:30:00", "ordering": "updated_at"})) == both


def test_a_day_whose_last_hour_comes_twice_bounds_both(api, staff_a, patient_a, settings):
    """Santiago's clocks go back at midnight after 4 April 2026, so 23:00 to 24:00 that day comes twice: a change at
    23:30 of the second was left out of ``updated_before=2026-04-04``, which bounds the whole day."""
    settings.TIME_ZONE = "America/Santiago"
    late = submit_beats(staff_a, patient_a)
    ECGRecording.objects.filter(pk=late.pk).update(updated_at=datetime(2026, 4, 5, 3, 30, tzinfo=UTC))
    assert ids(api.get(URL, {"updated_before": "2026-04-04", "updated_after": "2026-04-04"})) == [late.pk]
