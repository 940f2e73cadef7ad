"""The patient's Holter diary: when a symptom was noted, read from what the clinic types, the rhythm at that
moment, and the diary on the recording's page and in its printed report."""

import re
from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from diagnostics import diary, services
from diagnostics.models import DiaryEntry
from ecgsite.errors import Conflict, Invalid, NotFound

from ..conftest import client_for
from ..factories import signal_recording
from ..helpers import beat_recording
from .test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)

pytestmark = pytest.mark.django_db


@pytest.fixture
def holter(request):
    """70 s of MIT-BIH 207 (a VF run from 41.5 s to 61.5 s, supraventricular runs before it), classified."""
    return request.getfixturevalue("holter_recording")


FS = 360.0


def entry(recording, user, seconds: float, symptom: str = "palpitations", note: str = "") -> DiaryEntry:
    return services.diary_entry_add(recording=recording, by=user, sample=int(seconds * FS), symptom=symptom, note=note)


def test_a_time_into_the_recording_is_read_as_the_pages_write_times(holter):
    assert not diary.reads_time_of_day(holter)  # the CSV does not say when it started
    assert diary.sample_of(holter, "0:00:42") == 42 * 360
    assert diary.sample_of(holter, " 1:05 ") == 65 * 360
    with pytest.raises(Invalid, match="0:01:10 is past the end of the recording, which is 0:01:10 long"):
        diary.sample_of(holter, "70")
    with pytest.raises(Invalid, match="is not a time into the recording: write h:mm:ss") as refused:
        diary.sample_of(holter, "ten past")
    assert refused.value.field == "time"


def test_a_time_of_day_is_read_from_the_start_the_file_stated_and_may_fall_after_midnight(holter):
    # the site's wall clock: a diary's times are those of the clock on the clinic's wall
    holter.recorded_at = datetime(2026, 12, 1, 23, 59, 30, tzinfo=timezone.get_current_timezone())
    holter.save(update_fields=["recorded_at"])
    assert diary.reads_time_of_day(holter)
    assert diary.sample_of(holter, "00:00:10") == 40 * 360  # the next day's, 40 s in
    assert diary.sample_of(holter, "0.00") == 30 * 360  # "0.00" as a diary writes it
    assert diary.sample_of(holter, "23:59") == 0  # the minute it started in is its start
    with pytest.raises(Invalid, match=r"12:00 is outside the recording: it ran from 23:59:30 to 00:00:40"):
        diary.sample_of(holter, "12:00")
    with pytest.raises(Invalid, match="is not a time of day: write it as the diary gives it"):
        diary.sample_of(holter, "0:00:10:5")


def test_an_entry_is_kept_only_as_the_rules_allow(holter, staff_a, staff_b, patient_a):
    made = entry(holter, staff_a, 50, "other", note="  felt a thump \n in the chest ")
    assert (made.symptom, made.note, made.entered_by, made.clinic_id) == (
        "other",
        "felt a thump in the chest",
        staff_a,
        holter.clinic_id,
    )
    with pytest.raises(Invalid, match="Say what the symptom was in the note") as refused:
        entry(holter, staff_a, 50, "other")
    assert refused.value.field == "note"
    with pytest.raises(Invalid, match="Choose the symptom"):
        entry(holter, staff_a, 50, "hiccups")
    with pytest.raises(Invalid, match="outside the recording"):
        services.diary_entry_add(recording=holter, by=staff_a, sample=25200, symptom="dizziness")
    with pytest.raises(Invalid, match="at most 500 are allowed"):
        entry(holter, staff_a, 50, note="x" * 501)
    with pytest.raises(NotFound):  # another clinic's recording is not found, as an unknown one
        entry(holter, staff_b, 50)
    with pytest.raises(Invalid, match="holds beat rows, not a signal"):
        entry(beat_recording(staff_a, patient_a, classify=False), staff_a, 0)
    assert list(DiaryEntry.objects.values_list("pk", flat=True)) == [made.pk]


def test_the_rhythm_at_a_noted_moment(holter, staff_a):
    rhythm = holter.diagnosis.rhythm
    in_vf = diary.rhythm_at(holter, int(50 * FS), rhythm)
    assert in_vf["finding"] == "During ventricular flutter / fibrillation."
    assert in_vf["rate_bpm"] is None and in_vf["beats"] == {}  # the waves of VF are no beats to count
    between = diary.rhythm_at(holter, int(28 * FS), rhythm)
    assert between["during"] == [] and between["rate_bpm"] and sum(between["beats"].values()) >= 3
    assert between["finding"].startswith(f"No rhythm event at that moment (heart rate {between['rate_bpm']} bpm); ")
    # the most serious event near it, not the nearest: VF 13 s after, not the supraventricular run 2 s before
    assert between["finding"].endswith("ventricular flutter / fibrillation 13 s after it.")
    near = {(n["type"], n["offset_s"], n["after"]) for n in between["near"]}
    assert {("s_run", 2, False), ("s_run", 3, True), ("vf", 13, True)} <= near
    assert all(n["offset_s"] <= diary.NEAR_S for n in between["near"])
    # the three most serious listed, the other six counted; each with its place in the page's event list
    assert [n["type"] for n in between["near"]] == ["vf", "s_run", "s_run"] and between["near_more"] == 6
    vf = holter.events.get(type="vf")
    assert between["near"][0]["place"] == f"?events_page=1#event-{vf.pk}"
    holter.events.all().delete()
    quiet = diary.rhythm_at(holter, int(28 * FS), rhythm)
    assert (
        quiet["finding"]
        == f"No rhythm event at that moment (heart rate {quiet['rate_bpm']} bpm), nor within a minute of it."
    )
    noisy = dict(rhythm, noise=[{"start": int(26 * FS), "end": int(30 * FS)}])
    assert diary.rhythm_at(holter, int(28 * FS), noisy)["finding"] == (
        "At that moment the ECG is too noisy to read; no rhythm event within a minute of it."
    )


def test_a_symptom_is_entered_on_the_recording_page_and_shown_with_the_rhythm_then(client, staff_a, holter):
    staff = client_for(client, staff_a)
    page_url = reverse("recording-detail", args=[holter.pk])
    page = staff.get(page_url).content.decode()
    assert 'id="diary"' in page and "No diary entries." in page and "Time into the recording" in page
    submission = re.search(r'name="submission" value="([0-9a-f]{32})"[^>]*>\s*<h3>Enter a symptom', page)[1]
    sent = {"time": "0:00:50", "symptom": "dizziness", "note": "while walking", "submission": submission}
    response = staff.post(reverse("recording-diary", args=[holter.pk]), sent)
    made = DiaryEntry.objects.get()
    # back to the form, for the diary's next line (the list above it shows the entry)
    assert response.status_code == 302 and response["Location"] == f"{page_url}#diary-form"
    assert (made.sample, made.symptom, made.note) == (50 * 360, "dizziness", "while walking")
    again = staff.post(reverse("recording-diary", args=[holter.pk]), sent)  # a double click
    assert again["Idempotent-Replayed"] == "true" and DiaryEntry.objects.count() == 1
    page = staff.get(page_url).content.decode()
    section = page[page.index('id="diary"') : page.index("</section>", page.index('id="diary"'))]
    assert "Dizziness at 0:00:50 entered." in section  # the message where the page scrolls to
    item = section[section.index(f'id="diary-entry-{made.pk}"') :]
    assert "“while walking” · entered by" in item and "During ventricular flutter / fibrillation." in item
    assert '<figure class="strip"><svg' in item and "Dizziness noted at 0:00:50: ECG from 0:00:45" in item
    # the moment noted marked across the strip, 5 s (125 mm) in
    assert re.search(r'<line x1="([0-9.]+)" y1="0" x2="\1" y2="\d+" class="moment"/>', item)
    assert ">noted</text>" in item
    assert f'data-goto-sample="{50 * 360}"' in item
    assert (
        AuditEvent.objects.filter(
            action="update", object_type="recording", object_id=str(holter.pk), path__endswith="/diary/"
        ).count()
        == 1
    )  # the replay is no second write
    report = staff.get(reverse("recording-report", args=[holter.pk])).content.decode()
    diary_part = report[report.index("<h2>Patient diary</h2>") :]
    assert "<td>0:00:50</td>\n      <td>Dizziness (“while walking”)</td>" in diary_part  # the table: every entry
    assert "<strong>Dizziness</strong> noted at 0:00:50: During ventricular" in diary_part  # its strip's caption


def test_a_refused_entry_goes_back_to_the_form_as_typed_with_the_reason(client, staff_a, holter):
    staff = client_for(client, staff_a)
    url = reverse("recording-diary", args=[holter.pk])
    response = staff.post(url, {"time": "2:00", "symptom": "chest_pain", "note": "at rest"})
    assert response["Location"].endswith("#diary-form") and not DiaryEntry.objects.exists()
    form = staff.get(response["Location"]).content.decode()
    form = form[form.index('id="diary-form"') :]
    assert "0:02:00 is past the end of the recording, which is 0:01:10 long." in form
    assert 'value="2:00"' in form and 'value="at rest"' in form and '<option value="chest_pain" selected>' in form
    assert 'aria-invalid="true"' in form and "has-error" in form
    # once: the page shown again is a fresh form
    assert "past the end" not in staff.get(response["Location"]).content.decode()
    response = staff.post(url, {"time": "0:10", "symptom": "", "note": ""})
    assert "Choose the symptom the diary names." in staff.get(response["Location"]).content.decode()
    assert not DiaryEntry.objects.exists()


def test_an_entry_made_by_mistake_is_removed_by_the_clinic_alone(client, staff_a, staff_b, holter):
    made = entry(holter, staff_a, 20, "fatigue")
    url = reverse("recording-diary-remove", args=[holter.pk, made.pk])
    assert client_for(client, staff_b).post(url).status_code == 404 and DiaryEntry.objects.exists()
    client.logout()
    staff = client_for(client, staff_a)
    assert staff.get(url).status_code == 405  # a link followed removes nothing
    response = staff.post(url)
    made.refresh_from_db()
    assert response["Location"].endswith("#diary") and (made.removed_by, made.removed_at is not None) == (staff_a, True)
    page = staff.get(response["Location"]).content.decode()
    assert "The diary entry “Fatigue at 0:00:20” was removed." in page and "No diary entries." in page
    assert AuditEvent.objects.filter(action="update", object_type="diary_entry", object_id=str(made.pk)).count() == 1
    again = staff.post(url)  # a second click: said, nothing written
    assert "had been removed already" in staff.get(again["Location"]).content.decode()
    assert AuditEvent.objects.filter(action="update", object_type="diary_entry", object_id=str(made.pk)).count() == 1


def test_a_recording_in_analysis_takes_entries_and_a_resting_ecg_has_no_diary(client, staff_a, patient_a):
    pending = signal_recording(
        patient=patient_a, uploaded_by=staff_a, status="queued", sampling_rate=250.0, sample_count=250 * 3600
    )
    services.diary_entry_add(recording=pending, by=staff_a, sample=250 * 600, symptom="palpitations")
    page = client_for(client, staff_a).get(reverse("recording-detail", args=[pending.pk])).content.decode()
    assert 'Palpitations <span class="muted small">at 0:10:00' in page
    assert "The rhythm at this moment is shown once the analysis has finished." in page
    resting = signal_recording(
        patient=patient_a, uploaded_by=staff_a, status="queued", sampling_rate=500.0, sample_count=5000
    )
    assert (
        'id="diary"'
        not in client_for(client, staff_a).get(reverse("recording-detail", args=[resting.pk])).content.decode()
    )


def test_a_diary_is_bounded(client, staff_a, holter):
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            recording=holter,
            clinic_id=holter.clinic_id,
            sample=i,
            symptom="fatigue",
            entered_by=staff_a,
        )
        for i in range(DiaryEntry.MAX_PER_RECORDING)
    )
    staff = client_for(client, staff_a)
    response = staff.post(reverse("recording-diary", args=[holter.pk]), {"time": "0:30", "symptom": "syncope"})
    assert response["Location"].endswith("#diary")
    assert (
        f"diary holds {DiaryEntry.MAX_PER_RECORDING} entries, as many as one can"
        in staff.get(response["Location"]).content.decode()
    )
    assert DiaryEntry.objects.count() == DiaryEntry.MAX_PER_RECORDING


def test_the_diary_opens_with_how_many_symptoms_fell_during_a_rhythm_event(client, staff_a, doctor_a, holter):
    staff = client_for(client, staff_a)
    page_url = reverse("recording-detail", args=[holter.pk])
    entry(holter, staff_a, 50, "dizziness")  # in 207's VF
    assert "1 symptom noted, during a rhythm event." in staff.get(page_url).content.decode()
    entry(holter, staff_a, 28, "fatigue")  # between two supraventricular runs
    assert "2 symptoms noted, 1 of them during a rhythm event." in staff.get(page_url).content.decode()
    report = staff.get(reverse("recording-report", args=[holter.pk])).content.decode()
    assert "<strong>2 symptoms noted, 1 of them during a rhythm event.</strong>" in report
    # a doctor's rejection of the VF withdraws it
    vf = holter.events.get(type="vf")
    client_for(client, doctor_a).post(
        reverse("event-review", args=[vf.pk]), {"decision": "reject", "note": "electrode artefact"}
    )
    assert "2 symptoms noted, none during a rhythm event." in client_for(client, staff_a).get(page_url).content.decode()


def test_a_clock_time_on_a_long_recording_without_a_start_is_asked_not_guessed(staff_a, patient_a):
    long = signal_recording(
        patient=patient_a, uploaded_by=staff_a, status="queued", sampling_rate=250.0, sample_count=250 * 7200
    )
    with pytest.raises(
        Invalid, match=r"“14:32” could be a time of day.*write the time into the recording in full, 0:14:32"
    ):
        diary.sample_of(long, "14:32")
    assert diary.sample_of(long, "0:14:32") == 250 * 872  # in full, it is taken
    assert diary.sample_of(long, "83:45") == 250 * 5025  # no time of day: taken as minutes and seconds


def test_the_report_tables_every_entry_and_draws_the_strips_of_the_first(client, staff_a, holter):
    for second in range(0, 15 * 4, 4):
        entry(holter, staff_a, second + 1, "other", note=f"felt odd {second}")
    report = client_for(client, staff_a).get(reverse("recording-report", args=[holter.pk])).content.decode()
    part = report[report.index("<h2>Patient diary</h2>") :]
    assert part.count("<td>Other: felt odd") == 15  # the "other" symptom said by its note
    assert part.count('<figure class="strip event-strip">') == 12
    assert "The strips of the first 12 entries; every entry is in the table." in part
    assert part.startswith("<h2>Patient diary</h2>\n  <p><strong>15 symptoms noted,")


def test_beats_in_noise_are_not_counted_at_a_moment(holter):
    rhythm = dict(holter.diagnosis.rhythm, noise=[{"start": int(20 * FS), "end": int(36 * FS)}])
    found = diary.rhythm_at(holter, int(28 * FS), rhythm)
    assert found["unreadable"] and found["beats"] == {} and found["rate_bpm"] is None


def test_the_report_lists_the_corrections_of_beat_classes_that_stand_and_says_while_the_rhythm_is_recomputed(
    client, staff_a, doctor_a, holter
):
    from diagnostics import corrections

    n = list(holter.beats.filter(aami_class="N").order_by("index").values_list("index", flat=True)[:3])
    undone = corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="Q", beats=n[:1])
    corrections.beat_correction_undo(correction=undone, by=doctor_a)
    corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="S", beats=n[1:], note="premature, P wave")
    url = reverse("recording-report", args=[holter.pk])
    report = client_for(client, staff_a).get(url).content.decode()
    part = report[report.index("<h2>Beat classes corrected by a doctor</h2>") :]
    assert "2 beats of" in part and part.count("<li data-correction=") == 1  # the one undone is not listed
    assert f"{doctor_a.display_name}: 2 beats from N (2) to S — premature, P wave" in part
    assert "data-rhythm-recomputing" in report and "do not sign this report yet" in report
    assert corrections.recording_rhythm_recompute(recording_id=holter.pk) == "done"
    report = client_for(client, staff_a).get(url).content.decode()
    assert "data-rhythm-recomputing" not in report and "Beat classes corrected by a doctor" in report


def test_a_recording_over_a_day_long_whose_file_stated_its_start_is_not_said_to_lack_one(client, staff_a, patient_a):
    """Over a day the times of day repeat, so times into the recording are asked for; but the file did say when it
    started, and neither the form's hint nor a refusal may tell the clinic it did not."""
    started = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.get_current_timezone())
    recording = signal_recording(
        patient=patient_a,
        uploaded_by=staff_a,
        status="queued",
        sampling_rate=FS,
        sample_count=int(48 * 3600 * FS),
        recorded_at=started,
    )
    assert not diary.reads_time_of_day(recording)
    with pytest.raises(Invalid) as refused:
        diary.sample_of(recording, "14:32")
    assert "does not say when it started" not in refused.value.message
    assert "0:14:32" in refused.value.message  # what to write for 14 minutes 32 seconds in
    html = client_for(client, staff_a).get(reverse("recording-detail", args=[recording.pk])).content.decode()
    assert 'id="diary-time-help"' in html
    assert "does not say when it started" not in html


@pytest.mark.parametrize(
    ("route", "sent", "field"),
    [
        ("recording-diary", {"time": "0:10", "symptom": "other", "note": "x" * 600_000}, "note"),
        (
            "recording-activity",
            {"activity-kind": "other", "activity-start": "0:10", "activity-note": "x" * 600_000},
            "note",
        ),
        ("recording-beat-correct", {"family": "0", "to_class": "V", "note": "x" * 600_000}, "note"),
    ],
)
def test_a_refused_forms_draft_keeps_no_more_of_each_field_than_the_page_shows_again(
    client, doctor_a, patient_a, route, sent, field
):
    """A note pasted by mistake, as long as the route takes (1 MiB), had been kept whole in the session (the database)
    until the page was shown again, which reads 1,000 characters of it."""
    recording = signal_recording(
        patient=patient_a, uploaded_by=doctor_a, status="done", sampling_rate=FS, sample_count=int(70 * FS)
    )
    doctor = client_for(client, doctor_a)
    response = doctor.post(reverse(route, args=[recording.pk]), sent)
    assert response.status_code == 302 and not DiaryEntry.objects.exists()
    drafts = [value for key, value in doctor.session.items() if key.endswith(f"-draft:{recording.pk}")]
    assert len(drafts) == 1 and "characters long; at most 500" in drafts[0]["error"]
    assert all(len(str(value)) <= 1000 for value in drafts[0].values())


def test_removed_entries_count_toward_the_diarys_bound_as_they_are_kept(staff_a, patient_a):
    recording = signal_recording(
        patient=patient_a, uploaded_by=staff_a, status="queued", sampling_rate=250.0, sample_count=250 * 3600
    )
    most = DiaryEntry.MAX_PER_RECORDING
    for i in range(most - 1):
        services.diary_entry_add(recording=recording, by=staff_a, sample=250 * i, symptom="fatigue")
    mistaken = services.diary_entry_add(recording=recording, by=staff_a, sample=250 * most, symptom="syncope")
    services.diary_entry_remove(entry=mistaken, by=staff_a)
    # entering and removing had stored rows without end: each removed entry is kept
    with pytest.raises(Conflict) as refused:
        services.diary_entry_add(recording=recording, by=staff_a, sample=250 * 100, symptom="syncope")
    said = f"This recording's diary holds {most} entries, as many as one can (1 of them removed: a removed one is kept"
    assert refused.value.code == "diary_full" and said in refused.value.message
    assert recording.diary.count() == most
