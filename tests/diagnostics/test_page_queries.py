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
# sixth list, the recordings awaiting interpretation, counted in the query that reads its rows.
DASHBOARD_MAX_QUERIES = 20


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
