"""A long recording's beats are read from indexes: those within a stretch (the viewer's marks, a strip's, a diary
moment's) from one on their position, a page of them in order from (recording, index), not by reading and sorting
every beat of the recording."""

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


def _two_long_recordings(patient, user) -> list:
    recordings = [
        signal_recording(patient=patient, uploaded_by=user, status="done", sampling_rate=360.0) for _ in range(2)
    ]
    for recording in recordings:
        Beat.objects.bulk_create(
            Beat(recording=recording, index=i, position=300 * i, aami_class="N", p_n=1, p_s=0, p_v=0, p_f=0, p_q=0)
            for i in range(BEATS)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE diagnostics_beat")
        # The plans asked of PostgreSQL: is there an index that gives these rows (in this order)? Where one does, it
        # is used whatever the table's statistics say (a suite's other tests leave them otherwise: with a few thousand
        # rows a sequential scan and a sort can cost less); where none does, the scan or the sort shows all the same.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
    return recordings


def test_a_page_of_a_recordings_beats_is_read_in_order_from_the_index_without_a_sort(patient_a, staff_a):
    # Ordered by "recording", they were ordered by the recording's own ordering (its created_at): a join, and a sort of
    # every beat of the recording for each page (on disk deep in a 24-hour recording's).
    recording = _two_long_recordings(patient_a, staff_a)[0]
    page = selectors.beat_list(recording=recording)[2500:2550]
    assert [b.index for b in page] == list(range(2500, 2550))
    plan = page.explain()
    assert "beat_index_unique_per_recording" in plan and "Sort" not in plan, plan
    assert "diagnostics_ecgrecording" not in str(page.query)


def test_the_beats_of_a_stretch_are_read_from_the_position_index(patient_a, staff_a):
    recording = _two_long_recordings(patient_a, staff_a)[0]
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
