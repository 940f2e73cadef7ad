from io import StringIO

import pytest
from django.core.management import call_command

from mlmodels.models import ModelVersion


@pytest.mark.django_db
def test_the_newest_bundled_model_of_each_task_is_activated_and_a_chosen_one_is_kept(tiny_model_dir, settings):
    from ..conftest import model_version_from

    call_command("register_bundled_models", stdout=StringIO())
    registered = ModelVersion.objects.filter(task="heartbeat")
    assert registered.exists()
    newest = registered.order_by("version").last()
    assert ModelVersion.objects.get(task="heartbeat", is_active=True) == newest
    call_command("register_bundled_models", stdout=StringIO())  # safe to run twice
    assert ModelVersion.objects.filter(task="heartbeat").count() == registered.count()
    chosen = model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="admin-choice")
    call_command("register_bundled_models", stdout=StringIO())
    assert ModelVersion.objects.get(task="heartbeat", is_active=True) == chosen
