"""Every list page costs a constant number of queries, whatever the number of rows."""

import pytest
from django.urls import reverse

from ..conftest import client_for
from ..factories import done_recordings

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
