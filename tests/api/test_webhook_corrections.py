"""A hospital system hears of a doctor's beat corrections and of the rhythm recomputed over them: the counts and the
report it filed are amended, and the events it holds may have changed (a notice, not a poll of every recording)."""

import json

import pytest

from api.services import api_token_create
from diagnostics import corrections
from diagnostics.models import BeatFamily, Diagnosis

from ..diagnostics.test_beat_corrections import _mi_screened, analysed, record_model  # noqa: F401  (fixtures, used by name)

pytestmark = pytest.mark.django_db


def _notices(received) -> list[dict]:
    return [json.loads(body) for _headers, body in received]


def test_a_correction_its_undo_and_the_rhythm_recomputed_are_each_told_once(
    delivered,
    monkeypatch,
    staff_a,
    doctor_a,
    clinic_b,
    analysed,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from tests.factories import UserFactory

    url, received = delivered
    api_token_create(user=staff_a, webhook_url=url)
    api_token_create(user=UserFactory(username="staff_b", clinic=clinic_b), webhook_url=url + "/b")  # not told
    monkeypatch.setattr(corrections, "enqueue_rhythm_recompute", lambda recording_id: True)  # run here, below
    family = BeatFamily.objects.filter(recording=analysed).order_by("-beats").first()
    to = "V" if family.aami_class != "V" else "N"
    diagnosis = Diagnosis.objects.get(recording=analysed)

    with django_capture_on_commit_callbacks(execute=True):
        made = corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class=to, family=family.number)
    (notice,) = _notices(received)
    assert notice == {
        "event": "beats.corrected",
        "recording": analysed.pk,
        "diagnosis": diagnosis.pk,
        "mi_status": diagnosis.mi_status,
        "mi_flag": diagnosis.mi_flag,
        "url": f"http://127.0.0.1:8000/api/v1/recordings/{analysed.pk}",
        "correction": made.pk,
        "action": "made",
        "to_class": to,
        "family": family.number,
        "beats_changed": family.beats,
        "by": doctor_a.display_name,
        "at": made.created_at.isoformat().replace("+00:00", "Z"),
        "rhythm_status": "recomputing",
        "correction_url": f"http://127.0.0.1:8000/api/v1/recordings/{analysed.pk}/beat-corrections/{made.pk}",
    }

    with django_capture_on_commit_callbacks(execute=True):
        assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    recomputed = _notices(received)[1]
    diagnosis.refresh_from_db()
    assert recomputed["event"] == "rhythm.recomputed" and "correction" not in recomputed
    assert {k: recomputed[k] for k in ("rhythm_status", "reason", "recomputed_at", "events_url")} == {
        "rhythm_status": "current",
        "reason": None,
        "recomputed_at": diagnosis.rhythm_recomputed_at.isoformat().replace("+00:00", "Z"),
        "events_url": f"http://127.0.0.1:8000/api/v1/recordings/{analysed.pk}/events",
    }
    # nothing left to do: a second run tells nothing
    with django_capture_on_commit_callbacks(execute=True):
        assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "current"
    assert len(received) == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert corrections.beat_correction_undo(correction=made, by=doctor_a, idempotency_key="undo-1")
    undone = _notices(received)[2]
    made.refresh_from_db()
    assert (undone["event"], undone["correction"], undone["action"], undone["by"]) == (
        "beats.corrected",
        made.pk,
        "undone",
        doctor_a.display_name,
    )
    assert (
        undone["at"] == made.undone_at.isoformat().replace("+00:00", "Z") and undone["rhythm_status"] == "recomputing"
    )
    # the same undo retried after its answer was lost: replayed, and not told twice
    with django_capture_on_commit_callbacks(execute=True):
        assert corrections.beat_correction_undo(correction=made, by=doctor_a, idempotency_key="undo-1")
    assert len(received) == 3
    assert [n["event"] for n in _notices(received)] == ["beats.corrected", "rhythm.recomputed", "beats.corrected"]


def test_a_recomputation_that_fails_is_told_once_with_its_reason(
    delivered,
    monkeypatch,
    staff_a,
    doctor_a,
    analysed,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    from diagnostics.models import RhythmInputs

    url, received = delivered
    monkeypatch.setattr(corrections, "enqueue_rhythm_recompute", lambda recording_id: True)
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[5])
    api_token_create(user=staff_a, webhook_url=url)  # subscribed after the correction: hears of the failure alone
    RhythmInputs.objects.filter(recording=analysed).delete()  # as a recording analysed before they were kept
    monkeypatch.setattr(corrections, "SIGNAL_AGAIN_MAX_S", 1.0)  # and too long to read again
    for _ in range(2):  # a retry failing the same way is not told again
        with django_capture_on_commit_callbacks(execute=True):
            assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "failed"
    (notice,) = _notices(received)
    reason = Diagnosis.objects.get(recording=analysed).rhythm_recompute_error
    assert notice["event"] == "rhythm.recomputed" and "upload it again" in reason
    assert (notice["rhythm_status"], notice["reason"], notice["recomputed_at"]) == ("failed", reason, None)


def test_a_notice_tells_the_mi_screen_as_it_stood_when_it_was_logged_on_every_attempt(
    delivered,
    monkeypatch,
    staff_a,
    doctor_a,
    analysed,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    # A correction can now change the MI screen: a notice delivered (or retried) after an undo had told the flag as
    # it was then, so "made" and "undone" could carry the same flag, and two attempts of one notice differ.
    from api.models import WebhookDelivery
    from api.webhooks import payload

    url, received = delivered
    api_token_create(user=staff_a, webhook_url=url)
    monkeypatch.setattr(corrections, "enqueue_rhythm_recompute", lambda recording_id: True)
    probability = dict.fromkeys(range(analysed.beats.count()), 0.2) | {29: 0.9, 30: 0.9}
    _mi_screened(analysed, list(range(20, 60)), probability)
    many = list(range(20, 60, 2))  # all but one left out: not assessable
    with django_capture_on_commit_callbacks(execute=True):
        made = corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="Q", beats=many)
    with django_capture_on_commit_callbacks(execute=True):
        corrections.beat_correction_undo(correction=made, by=doctor_a)
    first, second = (json.loads(body) for _headers, body in received)
    assert (first["action"], first["mi_status"]) == ("made", "not_assessable")
    assert (second["action"], second["mi_status"]) == ("undone", "screened")
    # the first notice sent again now, the diagnosis screened again: the same body as its first attempt
    delivery = WebhookDelivery.objects.filter(event="beats.corrected").order_by("id").first()
    assert json.loads(payload(delivery.diagnosis, delivery.event, delivery.detail)) == first
