"""Every list page costs a constant number of queries, whatever the number of rows."""

import pytest
from django.urls import reverse

from diagnostics.models import ECGRecording

from ..conftest import client_for
from ..factories import done_recordings
from ..helpers import reviews_rewritable

ROWS = 50
# Session and user, the audit trail, the rows, the pager's count, one query per collection fetched.
PAGE_MAX_QUERIES = 14
# The dashboard shows five lists of up to 20 rows and five counts, and writes its audit row; a doctor's has a
# sixth list, the recordings awaiting interpretation, and its count (a query of its own, from an index: a window over
# the rows' query had joined every awaiting recording's patient and diagnosis).
DASHBOARD_MAX_QUERIES = 21


@pytest.fixture
def full_page(clinic_a, staff_a, doctor_a, active_models):
    return done_recordings(ROWS, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)


PAGE_LISTS = [("review-queue", {}), ("patient-list", {})]


@pytest.mark.django_db
@pytest.mark.parametrize("name,kwargs", PAGE_LISTS)
def test_a_list_page_costs_a_constant_number_of_queries(
    name, kwargs, client, doctor_a, full_page, django_assert_max_num_queries
):
    client_for(client, doctor_a)
    with django_assert_max_num_queries(PAGE_MAX_QUERIES):
        response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 200


@pytest.mark.django_db
def test_a_patients_page_lists_its_recordings_at_a_constant_number_of_queries(
    client, doctor_a, full_page, django_assert_max_num_queries
):
    patient = full_page[0].patient
    client_for(client, doctor_a)
    with django_assert_max_num_queries(PAGE_MAX_QUERIES):
        response = client.get(reverse("patient-detail", args=[patient.pk]))
    assert response.status_code == 200


@pytest.mark.django_db
def test_the_dashboard_costs_a_constant_number_of_queries(client, doctor_a, full_page, django_assert_max_num_queries):
    client_for(client, doctor_a)
    with django_assert_max_num_queries(DASHBOARD_MAX_QUERIES):
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200


def _mark_half(recordings, doctor) -> None:
    """Every other recording signed (the even ones) and, of the others, MI flags left unreviewed and a VF episode
    no doctor decided on: what the lists' "Signed"/"Preliminary" and the worklist's flags read."""
    from diagnostics import services
    from diagnostics.models import Event, Review

    for i, r in enumerate(recordings):
        if i % 2 == 0:
            services.interpretation_sign(user=doctor, recording=r, text=f"Read {i}.")
        else:
            with reviews_rewritable():
                Review.objects.filter(diagnosis__recording=r).delete()
            Event.objects.create(recording=r, clinic=r.clinic, type="vf", start=10, end=100, beats=0)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["doctor_a", "staff_a"])
def test_the_report_state_and_the_worklists_flags_cost_no_query_per_row(
    who, request, client, clinic_a, staff_a, doctor_a, active_models
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client_for(client, request.getfixturevalue(who))

    def pages() -> tuple[list[int], list[str]]:
        counts, html = [], []
        for url in (reverse("dashboard"), reverse("patient-detail", args=[patient.pk])):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
            assert response.status_code == 200
            counts.append(len(queries.captured_queries))
            html.append(response.content.decode())
        return counts, html

    few = done_recordings(4, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    _mark_half(few, doctor_a)
    patient = few[0].patient  # with a signed recording and a preliminary one, then six
    ECGRecording.objects.filter(pk=few[1].pk).update(patient=patient)
    before, _ = pages()
    many = done_recordings(30, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    _mark_half(many, doctor_a)
    ECGRecording.objects.filter(pk__in=[r.pk for r in many[:4]]).update(patient=patient)
    after, (dashboard, patient_page) = pages()
    assert after == before  # 34 rows cost what 4 did
    today = dashboard[dashboard.index('id="today"') : dashboard.index('id="pending"')]
    assert today.count('data-report-state="signed"') == 10 and today.count('data-report-state="preliminary"') == 10
    assert (
        patient_page.count('data-report-state="signed"') == patient_page.count('data-report-state="preliminary"') == 3
    )
    if who == "doctor_a":
        worklist = dashboard[dashboard.index('id="awaiting-interpretation"') : dashboard.index('id="today"')]
        assert worklist.count('data-worklist-flag="mi"') == 17 and worklist.count('data-worklist-flag="vf"') == 17


def _most_loops(queryset) -> int:
    """The most times any step of the query's plan ran (EXPLAIN ANALYZE): a step that runs once per row of a
    table shows that table's rows."""
    from django.db import connection

    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]

    def walk(node: dict) -> int:
        return max([node.get("Actual Loops", 0), *(walk(child) for child in node.get("Plans", []))])

    return walk(plan[0]["Plan"])


@pytest.mark.django_db
def test_the_alarm_list_reads_a_recording_once_however_many_events_it_has(clinic_a, patient_a, staff_a, doctor_a):
    # It had grouped a join of each recording's events and run its subqueries once per event: 0.8 s for one
    # 24-hour recording of 1,722 events, on the dashboard and on the recording's page.
    from diagnostics import selectors
    from diagnostics.models import Event

    from ..factories import signal_recording

    recording = signal_recording(patient=patient_a, uploaded_by=staff_a, status="done", sampling_rate=360.0)

    def couplets(n: int, first: int) -> None:
        Event.objects.bulk_create(
            Event(recording=recording, clinic=clinic_a, type="v_couplet", start=s * 1000, end=s * 1000 + 300, beats=2)
            for s in range(first, first + n)
        )

    Event.objects.create(recording=recording, clinic=clinic_a, type="vf", start=500_000, end=510_000, beats=0)
    couplets(10, 0)
    listed = selectors.life_threatening_awaiting(user=doctor_a)
    few = (_most_loops(listed), _most_loops(listed.filter(pk=recording.pk)))
    couplets(20, 10)
    many = (_most_loops(listed), _most_loops(listed.filter(pk=recording.pk)))
    assert many == few
    (row,) = listed
    assert (row.unreviewed_events, row.first_unreviewed_after) == (1, 30)
