"""The CSV export's beat table, read as plain values and written many rows to a piece, is the text the csv module
wrote one beat model at a time (cells a spreadsheet takes for formulas quoted, cells with commas and quotes quoted,
no position, no MI probability); the events' review column is each event's latest decision, read in one query."""

import csv
import io
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from diagnostics import exports
from diagnostics.models import Beat, Event, EventReview

pytestmark = pytest.mark.django_db


def body(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8")


def _beat_table_one_model_at_a_time(recording, scored: set[int]) -> str:
    """The beat rows as the export wrote them before: one Beat instance, one csv row at a time."""
    out = io.StringIO()
    writer = csv.writer(out)
    patient = recording.patient
    for b in recording.beats.all():
        writer.writerow(
            [
                exports.safe_cell(patient.mrn),
                exports.safe_cell(patient.display_name),
                recording.pk,
                b.index + 1,
                b.position,
                b.aami_class,
                *(f"{p:.6f}" for p in b.probabilities.values()),
                "" if b.mi_probability is None else f"{b.mi_probability:.6f}",
                b.index,
                1 if b.index in scored else "",
                exports.exported_time(recording.recorded_at),
            ]
        )
    return out.getvalue()


@pytest.mark.parametrize("at_once", [2, 4, 2000])
def test_the_beat_rows_are_those_written_one_beat_at_a_time(api_as, staff_a, done_recording, monkeypatch, at_once):
    monkeypatch.setattr(exports, "BEAT_ROWS_AT_ONCE", at_once)  # pieces of 2, 4 and all of the 6 beats
    patient = done_recording.patient
    patient.mrn, patient.family_name, patient.given_name = "=A-1;@x", 'O"Brien, Jr', "-Ann"
    patient.save()
    done_recording.recorded_at = datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC)
    done_recording.save(update_fields=["recorded_at"])
    beats = list(done_recording.beats.order_by("index"))
    beats[1].position, beats[2].mi_probability, beats[3].p_v = None, None, 1 / 3
    Beat.objects.bulk_update(beats, ["position", "mi_probability", "p_v"])
    done_recording.diagnosis.mi_scored_beats = [0, 3]
    done_recording.diagnosis.save()
    text = body(api_as(staff_a).get(f"/api/v1/recordings/{done_recording.pk}/export.csv"))
    lines = text.split("\r\n")
    table = "\r\n".join(lines[1 : 1 + len(beats)]) + "\r\n"
    from diagnostics import corrections

    scored = set(corrections.mi_beats_scored(done_recording.diagnosis))
    assert table == _beat_table_one_model_at_a_time(done_recording, scored)
    assert '"O""Brien, Jr, -Ann"' in table and "'=A-1;'@x" in table


def test_each_event_row_gives_its_latest_decision_in_one_query_however_many_events(
    api_as, staff_a, doctor_a, done_recording
):
    def export_queries() -> tuple[int, list[str]]:
        with CaptureQueriesContext(connection) as queries:
            text = body(api_as(staff_a).get(f"/api/v1/recordings/{done_recording.pk}/export.csv"))
        rows = list(csv.reader(io.StringIO(text.split("\r\n\r\n")[1])))
        column = rows[0].index("review")
        return len(queries.captured_queries), [row[column] for row in rows[1:]]

    clinic = done_recording.clinic
    first = Event.objects.create(recording=done_recording, clinic=clinic, type="pause", start=10, end=900, beats=2)
    EventReview.objects.create(event=first, clinic=clinic, reviewer=doctor_a, decision="confirm")
    EventReview.objects.create(event=first, clinic=clinic, reviewer=doctor_a, decision="reject")
    few, decisions = export_queries()
    assert decisions == ["reject"]
    more = [
        Event.objects.create(recording=done_recording, clinic=clinic, type="pause", start=s, end=s + 800, beats=2)
        for s in (1000, 2000, 3000)
    ]
    EventReview.objects.create(event=more[1], clinic=clinic, reviewer=doctor_a, decision="reject")
    EventReview.objects.create(event=more[1], clinic=clinic, reviewer=doctor_a, decision="confirm")
    many, decisions = export_queries()
    assert decisions == ["reject", "", "confirm", ""]
    assert many == few
