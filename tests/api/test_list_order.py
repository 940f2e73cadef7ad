"""Lists of rows made at one instant keep one order page to page (newest made first, then the higher id): without a
tie-break PostgreSQL may give rows of one created_at in either order, and a client paging through saw a row twice
and another never (the recordings list had this mended before; the diagnoses, reviews and model versions lists had not)."""

from datetime import datetime, timezone

import pytest

from diagnostics import services
from diagnostics.models import Diagnosis, Review
from mlmodels.models import ModelVersion
from tests.conftest import model_version_from
from tests.factories import done_recordings
from tests.helpers import reviews_rewritable

pytestmark = pytest.mark.django_db
T = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize(("url", "model"), [("/api/v1/diagnoses", Diagnosis), ("/api/v1/reviews", Review)])
def test_rows_of_one_instant_come_each_once_newest_made_first_across_pages(
    api_as, clinic_a, staff_a, doctor_a, active_models, url, model
):
    done_recordings(4, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    with reviews_rewritable():
        model.objects.update(created_at=T)
    made = sorted(model.objects.values_list("id", flat=True), reverse=True)
    api = api_as(doctor_a)
    pages = [ids(api.get(url, {"page_size": 1, "page": page})) for page in range(1, len(made) + 1)]
    assert pages == [[pk] for pk in made]


def test_the_latest_of_two_reviews_of_one_instant_is_the_one_made_last(clinic_a, staff_a, doctor_a, active_models):
    (recording,) = done_recordings(1, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    diagnosis = recording.diagnosis
    last = services.review_create(user=doctor_a, diagnosis=diagnosis, decision="reject", note="artefact")
    with reviews_rewritable():
        diagnosis.reviews.update(created_at=T)
    assert Diagnosis.objects.get(pk=diagnosis.pk).latest_review().pk == last.pk


def test_model_versions_of_one_instant_come_each_once_across_pages(api_as, staff_a, tiny_model_dir):
    for n in range(4):
        model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version=f"tiny-{n}", active=n == 3)
    ModelVersion.objects.update(created_at=T)
    made = sorted(ModelVersion.objects.values_list("id", flat=True), reverse=True)
    api = api_as(staff_a)
    pages = [ids(api.get("/api/v1/model-versions", {"page_size": 1, "page": p})) for p in range(1, len(made) + 1)]
    assert pages == [[pk] for pk in made]
