"""A doctor's worklist of recordings awaiting interpretation reads its page in order from an index, and its count in a
query of its own (read from the same index alone where the table is vacuumed: bench.clinic_volume): its count, a window
over the page's query, had joined every awaiting recording's patient and diagnosis (97 ms for 4,258 awaiting)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from diagnostics import selectors
from diagnostics.models import ECGRecording

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_the_worklist_page_is_read_in_order_from_an_index_and_counted_apart(
    client, clinic_a, clinic_b, staff_a, doctor_a
):
    patients = {clinic: PatientFactory(clinic=clinic) for clinic in (clinic_a, clinic_b)}
    statuses = ["done", "done", "failed", "queued", "done", "processing"]
    ECGRecording.objects.bulk_create(
        ECGRecording(
            clinic=clinic,
            patient=patients[clinic],
            uploaded_by=staff_a,
            file=f"recordings/{i}.csv",
            input_format="csv",
            kind="signal",
            sha256="0" * 64,
            status=statuses[i % len(statuses)],
        )
        for clinic in (clinic_a, clinic_b)
        for i in range(600)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE diagnostics_ecgrecording")
        # where an index gives these rows (in this order) PostgreSQL takes it whatever the few rows' statistics say
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
    assert selectors.interpretation_awaiting_count(user=doctor_a) == 300
    page = selectors.interpretation_awaiting(user=doctor_a)[:20]
    plan = page.explain()
    assert "recording_worklist_idx" in plan and "Sort" not in plan and "WindowAgg" not in plan, plan
    client.force_login(doctor_a)
    with CaptureQueriesContext(connection) as dashboard:
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200 and "Recordings 1–20 of 300." in response.content.decode()
    assert not [q["sql"] for q in dashboard.captured_queries if "OVER (" in q["sql"]]  # no window over the rows
    assert ECGRecording.objects.filter(clinic=clinic_a, status="done").count() == 300
