"""`manage.py recompute_rhythm`: recordings analysed by an earlier version of the rhythm analysis brought to this one
over their stored beats and classes, as a beat correction's recomputation does, doctors' decisions kept."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditEvent
from diagnostics import corrections, services
from diagnostics.models import Diagnosis, ECGRecording, Event, RhythmInputs, RhythmRecomputation
from ecg.constants import RHYTHM_VERSION

from .test_beat_corrections import WorkerDied, analysed, record_model  # noqa: F401  (fixtures, used by name)

pytestmark = pytest.mark.django_db


def as_an_older_version_left_it(recording, doctor) -> tuple[Event, Event, dict]:
    """The recording as an earlier version of the rhythm analysis stored it: no version kept, a figure of its summary
    other than this version gives, and an event's end a sample later than this version finds it, which a doctor
    rejected; another event, found alike by both, a doctor confirmed. Returns the two events and the summary this
    version gives."""
    diagnosis = Diagnosis.objects.get(recording=recording)
    fresh = diagnosis.rhythm
    older = {**fresh, "ventricular": {**fresh["ventricular"], "total": fresh["ventricular"]["total"] + 7}}
    Diagnosis.objects.filter(pk=diagnosis.pk).update(rhythm=older, rhythm_version=None)
    same, moved = list(Event.objects.filter(recording=recording).order_by("start")[:2])
    services.event_review_create(user=doctor, event=same, decision="confirm", note="seen")
    Event.objects.filter(pk=moved.pk).update(end=moved.end + 1)
    moved.refresh_from_db()
    services.event_review_create(user=doctor, event=moved, decision="reject", note="artefact")
    return same, moved, fresh


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("recompute_rhythm", *args, stdout=out)
    return out.getvalue()


def test_an_older_analysis_is_brought_to_this_version_keeping_doctors_decisions(analysed, doctor_a):  # noqa: F811
    same, moved, fresh = as_an_older_version_left_it(analysed, doctor_a)
    events_before = Event.objects.filter(recording=analysed).count()
    out = run("--all")
    diagnosis = Diagnosis.objects.get(recording=analysed)
    assert diagnosis.rhythm == fresh and diagnosis.rhythm_version == RHYTHM_VERSION
    assert diagnosis.rhythm_status == "current" and diagnosis.rhythm_recomputed_at is not None
    # the event found again keeps its row and its decision; the one found with other bounds is found anew, and the
    # decision on the one withdrawn is kept with the recomputation, as a correction's recomputation keeps it
    assert Event.objects.get(pk=same.pk).reviews.get().decision == "confirm"
    assert not Event.objects.filter(pk=moved.pk).exists()
    anew = Event.objects.get(recording=analysed, type=moved.type, start=moved.start, end=moved.end - 1)
    assert not anew.reviews.exists() and Event.objects.filter(recording=analysed).count() == events_before
    request = RhythmRecomputation.objects.get(recording=analysed)
    assert (request.outcome, request.from_version, request.to_version) == ("changed", None, RHYTHM_VERSION)
    assert [(e["start"], e["end"], e["decisions"][0]["decision"]) for e in request.withdrawn_events] == [
        (moved.start, moved.end, "reject")
    ]
    assert request.withdrawn_events[0]["decisions"][0]["reviewer_id"] == doctor_a.pk
    assert f"Recording {analysed.pk}: changed" in out
    assert "1 new, 1 withdrawn (1 with doctors' decisions, kept); summary changed" in out
    assert f"Recomputed to rhythm analysis version {RHYTHM_VERSION}: 1 changed." in out
    # the trail names the command, the recording and its clinic
    audit = AuditEvent.objects.get(channel="command")
    assert (audit.path, audit.object_type, audit.object_id, audit.clinic_id, audit.action) == (
        "manage.py recompute_rhythm",
        "recording",
        str(analysed.pk),
        analysed.clinic_id,
        "update",
    )
    # run again: nothing left to recompute, nothing written
    assert run("--all").endswith(f"Recomputed to rhythm analysis version {RHYTHM_VERSION}: none.\n")
    assert RhythmRecomputation.objects.count() == 1 and AuditEvent.objects.filter(channel="command").count() == 1


def test_a_withdrawn_event_found_again_later_takes_back_its_decision(analysed, doctor_a):  # noqa: F811
    """The decisions kept with the recomputation are those given back where the event is found again (a correction
    undone, say), as those a correction's recomputation withdrew are."""
    _same, moved, _fresh = as_an_older_version_left_it(analysed, doctor_a)
    run("--all")
    restorable = corrections._withdrawn_decisions(analysed.pk)
    assert restorable[(moved.type, moved.start, moved.end)][0]["decision"] == "reject"


def test_a_dry_run_says_what_would_change_and_writes_nothing(analysed, doctor_a):  # noqa: F811
    same, moved, fresh = as_an_older_version_left_it(analysed, doctor_a)
    before = Diagnosis.objects.get(recording=analysed)
    out = run("--all", "--dry-run")
    assert f"Recording {analysed.pk}: would change; events" in out
    assert "1 new, 1 withdrawn (1 with doctors' decisions, kept); summary changed" in out
    assert f"Would recompute to rhythm analysis version {RHYTHM_VERSION}: 1 would change." in out
    after = Diagnosis.objects.get(recording=analysed)
    assert (after.rhythm, after.rhythm_version, after.changed_at) == (before.rhythm, None, before.changed_at)
    assert Event.objects.filter(pk=moved.pk).exists() and not RhythmRecomputation.objects.exists()
    assert not AuditEvent.objects.filter(channel="command").exists()


def test_a_recording_whose_figures_this_version_gives_alike_is_only_stamped(analysed):  # noqa: F811
    """Nothing it shows changes: no notice, no recomputing state, its Last-Modified left; the version is kept, so a
    second run passes it by."""
    Diagnosis.objects.filter(recording=analysed).update(rhythm_version=None)
    before = Diagnosis.objects.get(recording=analysed)
    updated = ECGRecording.objects.get(pk=analysed.pk).updated_at
    assert f"Recording {analysed.pk}: unchanged" in run("--recording", str(analysed.pk))
    after = Diagnosis.objects.get(recording=analysed)
    assert after.rhythm_version == RHYTHM_VERSION and after.changed_at == before.changed_at
    assert after.rhythm_recomputed_at is None and ECGRecording.objects.get(pk=analysed.pk).updated_at == updated
    assert RhythmRecomputation.objects.get().outcome == "unchanged"
    assert f"Recording {analysed.pk}: current" in run("--recording", str(analysed.pk))


def test_a_stopped_run_goes_on_where_it_stopped(analysed, doctor_a, monkeypatch):  # noqa: F811
    """Killed while it recomputed (the request asked for, not written), the next run takes the request up."""
    import ecg.rhythm

    same, moved, fresh = as_an_older_version_left_it(analysed, doctor_a)
    analyse = ecg.rhythm.analyse_rhythm
    calls = []

    def dies_the_second_time(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise WorkerDied
        return analyse(**kwargs)

    monkeypatch.setattr(ecg.rhythm, "analyse_rhythm", dies_the_second_time)
    with pytest.raises(WorkerDied):
        run("--all")
    diagnosis = Diagnosis.objects.get(recording=analysed)
    assert diagnosis.rhythm_status == "recomputing" and diagnosis.rhythm_version is None
    assert RhythmRecomputation.objects.get().outcome == ""
    out = run("--all")
    assert f"Recording {analysed.pk}: changed" in out
    diagnosis = Diagnosis.objects.get(recording=analysed)
    assert diagnosis.rhythm == fresh and diagnosis.rhythm_status == "current"
    request = RhythmRecomputation.objects.get()  # the same request, not a second one
    assert request.outcome == "changed" and len(request.withdrawn_events) == 1


def test_a_recording_that_cannot_be_recomputed_is_left_as_it_was_with_the_reason(analysed, monkeypatch):  # noqa: F811
    """Not left failed (its report preliminary, its signing refused) for want of a newer analysis: its figures are
    those of its beats' classes, by the version they were computed by."""
    RhythmInputs.objects.filter(recording=analysed).delete()
    monkeypatch.setattr(corrections, "SIGNAL_AGAIN_MAX_S", 60.0)  # 119 is 30 minutes long
    Diagnosis.objects.filter(recording=analysed).update(rhythm_version=None)
    before = Diagnosis.objects.get(recording=analysed)
    out = run("--all")
    assert f"Recording {analysed.pk}: failed (This recording (0.5 hours) was analysed before" in out
    after = Diagnosis.objects.get(recording=analysed)
    assert after.rhythm == before.rhythm and after.rhythm_status == "current" and after.rhythm_version is None
    request = RhythmRecomputation.objects.get()
    assert request.outcome == "failed" and "upload it again" in request.reason


def test_a_recomputation_that_fails_once_asked_leaves_the_recording_current(analysed, doctor_a, monkeypatch):  # noqa: F811
    """The request asked for fails in the recomputation itself (three runs that died): the recording is given back
    its state, not left failed."""
    import ecg.rhythm

    as_an_older_version_left_it(analysed, doctor_a)
    analyse = ecg.rhythm.analyse_rhythm
    calls = []

    def dies_after_the_first(**kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise WorkerDied
        return analyse(**kwargs)

    monkeypatch.setattr(ecg.rhythm, "analyse_rhythm", dies_after_the_first)
    for _ in range(3):
        with pytest.raises(WorkerDied):
            run("--all")
    assert "Gave up after 3 attempts" in run("--all")
    diagnosis = Diagnosis.objects.get(recording=analysed)
    assert diagnosis.rhythm_status == "current" and diagnosis.rhythm_version is None
    assert RhythmRecomputation.objects.get().outcome == "failed"


def test_a_signed_recording_is_left_unless_asked_for(analysed, doctor_a):  # noqa: F811
    """A report a doctor signed does not change under the signature unasked."""
    same, moved, fresh = as_an_older_version_left_it(analysed, doctor_a)
    services.interpretation_sign(user=doctor_a, recording=analysed, text="Sinus rhythm, ventricular bigeminy.")
    out = run("--all")
    assert f"Recording {analysed.pk}: signed (a doctor signed its interpretation (--include-signed" in out
    assert Diagnosis.objects.get(recording=analysed).rhythm_version is None
    out = run("--all", "--include-signed")
    assert f"Recording {analysed.pk}: changed" in out
    assert Diagnosis.objects.get(recording=analysed).rhythm == fresh
    assert RhythmRecomputation.objects.get().signed is True


def test_a_recording_whose_correction_is_being_recomputed_is_left_to_the_worker(analysed, doctor_a):  # noqa: F811
    Diagnosis.objects.filter(recording=analysed).update(rhythm_version=None)
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[5])
    out = run("--all")
    assert "its recomputation after a beat correction is pending" in out
    assert not RhythmRecomputation.objects.exists()
    # the correction's own recomputation is by this version
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    assert Diagnosis.objects.get(recording=analysed).rhythm_version == RHYTHM_VERSION


def test_the_recordings_are_chosen_by_clinic_or_by_recording_and_a_wrong_choice_is_refused(analysed, clinic_b):  # noqa: F811
    Diagnosis.objects.filter(recording=analysed).update(rhythm_version=None)
    assert run("--clinic", str(clinic_b.pk)).endswith(": none.\n")  # another clinic's: left
    assert Diagnosis.objects.get(recording=analysed).rhythm_version is None
    for args, words in [
        ((), "Say which recordings"),
        (("--all", "--clinic", str(clinic_b.pk)), "Say which recordings"),
        (("--clinic", "999999"), "No clinic 999999"),
        (("--recording", "999999"), "No recording 999999"),
    ]:
        with pytest.raises(CommandError, match=words):
            run(*args)
    assert "1 unchanged" in run("--clinic", str(analysed.clinic_id))
    assert Diagnosis.objects.get(recording=analysed).rhythm_version == RHYTHM_VERSION


def test_a_new_analysis_is_stored_with_this_version(analysed):  # noqa: F811
    assert Diagnosis.objects.get(recording=analysed).rhythm_version == RHYTHM_VERSION
