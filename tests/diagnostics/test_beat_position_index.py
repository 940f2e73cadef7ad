"""The beats within a stretch of a long recording (the viewer's marks, a strip's, a diary moment's) are read from an
index on their position, not by reading every beat of the recording."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from diagnostics import selectors
from diagnostics.models import Beat

from ..factories import signal_recording

pytestmark = pytest.mark.django_db

BEATS = 5000


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_beats_of_a_stretch_are_read_from_the_position_index(patient_a, staff_a):
    recordings = [
        signal_recording(patient=patient_a, uploaded_by=staff_a, status="done", sampling_rate=360.0) for _ in range(2)
    ]
    for recording in recordings:
        Beat.objects.bulk_create(
            Beat(recording=recording, index=i, position=300 * i, aami_class="N", p_n=1, p_s=0, p_v=0, p_f=0, p_q=0)
            for i in range(BEATS)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE diagnostics_beat")
    recording = recordings[0]
    with CaptureQueriesContext(connection) as one:
        marks = selectors.beat_marks(recording=recording, start=600_000, end=603_600)
    with CaptureQueriesContext(connection) as several:
        within = selectors.beat_marks_within(recording=recording, spans=[(600_000, 603_600), (900_000, 903_600)])
    assert [m[0] for m in marks] == list(range(2000, 2012))
    assert [m[0] for m in within] == [*range(2000, 2012), *range(3000, 3012)]
    for queries in (one, several):
        (query,) = queries.captured_queries
        plan = _plan(query["sql"])
        assert "beat_position_idx" in plan and "Seq Scan" not in plan, plan
