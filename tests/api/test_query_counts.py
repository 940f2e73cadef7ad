"""Every API list endpoint costs a constant number of queries, whatever the page size.

Each page is full of rows that carry everything a row shows (a diagnosis with its model versions and
a review history).
"""

import pytest

from ..factories import done_recordings

ROWS = 50
# Token and user, the page's rows, the count for the pager, one query per collection fetched for the page.
MAX_QUERIES = 8


@pytest.fixture
def full_page(clinic_a, staff_a, doctor_a, active_models):
    return done_recordings(ROWS, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)


API_LISTS = [
    "/api/v1/recordings",
    "/api/v1/diagnoses",
    "/api/v1/diagnoses?flagged=true",
    "/api/v1/reviews",
    "/api/v1/patients",
    "/api/v1/model-versions",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", API_LISTS)
def test_an_api_list_page_costs_a_constant_number_of_queries(
    url, api_as, doctor_a, full_page, django_assert_max_num_queries
):
    client = api_as(doctor_a)
    # a connection's first page of a list prepares its statement (PREPARE): once, not per page; the file run alone
    # had counted it (9 queries) and passed only after another test had prepared it on the same connection
    client.get(url, {"page_size": ROWS})
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(url, {"page_size": ROWS})
    assert response.status_code == 200 and len(response.json()["results"]) > 0


@pytest.mark.django_db
def test_listing_50_recordings_through_the_api_takes_at_most_8_queries(
    api_as, staff_a, full_page, django_assert_max_num_queries
):
    client = api_as(staff_a)
    client.get("/api/v1/recordings", {"page_size": 50})  # as above
    with django_assert_max_num_queries(8):
        response = client.get("/api/v1/recordings", {"page_size": 50})
    rows = response.json()["results"]
    assert len(rows) == 50 and all(r["diagnosis"]["latest_review"]["decision"] for r in rows)


@pytest.mark.django_db
def test_the_beats_of_a_recording_cost_a_constant_number_of_queries(
    api_as, staff_a, full_page, django_assert_max_num_queries
):
    from diagnostics.models import Beat

    recording = full_page[0]
    Beat.objects.bulk_create(
        Beat(recording=recording, index=i, aami_class="N", p_n=1, p_s=0, p_v=0, p_f=0, p_q=0, mi_probability=0.1)
        for i in range(ROWS)
    )
    client = api_as(staff_a)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(f"/api/v1/recordings/{recording.pk}/beats", {"page_size": ROWS})
    assert len(response.json()["results"]) == ROWS


@pytest.mark.django_db
def test_the_moves_of_a_recording_cost_a_constant_number_of_queries(
    api_as, doctor_a, admin_a, full_page, django_assert_max_num_queries
):
    from diagnostics import services

    from ..factories import PatientFactory

    recording = full_page[0]
    patients = [PatientFactory(clinic=recording.clinic) for _ in range(2)]
    for i in range(20):  # back and forth, by two users
        services.recording_move(recording=recording, patient=patients[i % 2], by=(doctor_a, admin_a)[i % 2], reason="x")
    client = api_as(doctor_a)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(f"/api/v1/recordings/{recording.pk}/moves", {"page_size": ROWS})
    moves = response.json()["results"]
    assert len(moves) == 20 and {m["moved_by"]["id"] for m in moves} == {doctor_a.pk, admin_a.pk}
