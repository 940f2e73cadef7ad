"""One mechanism for the soft removals a client may retry: a diary entry's removal and a beat correction's undoing."""

import pytest

from diagnostics import corrections, services
from diagnostics.models import Beat

from .test_beat_corrections import analysed, record_model  # noqa: F401  (fixtures, used by name)

pytestmark = pytest.mark.django_db


def test_a_diary_removal_and_a_correction_undo_are_one_idempotent_removal(analysed, doctor_a, monkeypatch):  # noqa: F811
    real, removed = services.idempotent_removal, []

    def spy(**kwargs):
        removed.append(type(kwargs["row"]).__name__)
        return real(**kwargs)

    monkeypatch.setattr(services, "idempotent_removal", spy)
    monkeypatch.setattr(corrections, "idempotent_removal", spy)
    entry = services.diary_entry_add(recording=analysed, by=doctor_a, sample=1000, symptom="palpitations")
    first = Beat.objects.filter(recording=analysed, aami_class="N").order_by("index").first()
    correction = corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="S", beats=[first.index])
    for _ in range(2):  # the second a retry whose 204 was lost: answered again, nothing removed twice
        assert services.diary_entry_remove(entry=entry, by=doctor_a, idempotency_key="d-1", fingerprint="d") is True
        assert corrections.beat_correction_undo(
            correction=correction, by=doctor_a, idempotency_key="u-1", fingerprint="u"
        )
    assert entry.replayed and correction.replayed
    assert removed == ["DiaryEntry", "BeatCorrection"] * 2
    assert services.diary_entry_remove(entry=entry, by=doctor_a) is False
    assert corrections.beat_correction_undo(correction=correction, by=doctor_a) is False
