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


@pytest.mark.django_db
def test_start_up_takes_a_bundled_version_an_administrator_has_changed_since(settings):
    # an administrator may change a version's threshold (the admin's change form) or have registered the
    # same artifact under another name: start-up's registration must not refuse it (it runs under set -e)
    call_command("register_bundled_models", stdout=StringIO())
    mi = ModelVersion.objects.get(task="mi", is_active=True)
    ModelVersion.objects.filter(pk=mi.pk).update(threshold=0.3, version="renamed-by-admin")
    call_command("register_bundled_models", stdout=StringIO())
    assert ModelVersion.objects.filter(task="mi").count() == 1
    assert ModelVersion.objects.get(pk=mi.pk).threshold == 0.3


@pytest.mark.django_db
def test_an_older_bundled_version_an_administrator_went_back_to_stays_active_at_start_up(platform_admin):
    # start-up activated the newest bundled version again whenever the active one was bundled: an administrator's
    # rollback to an older bundled version was undone by the next deployment, silently, for every clinic
    from mlmodels.models import ModelActivation
    from mlmodels.services import model_version_activate

    call_command("register_bundled_models", stdout=StringIO())
    bundled = ModelVersion.objects.filter(task="heartbeat").order_by("version")
    assert bundled.count() >= 2
    older, newest = bundled.first(), bundled.last()
    assert ModelVersion.objects.get(task="heartbeat", is_active=True) == newest
    model_version_activate(model_version=older, by=platform_admin, via=ModelActivation.Via.ADMIN)
    call_command("register_bundled_models", stdout=StringIO())
    assert ModelVersion.objects.get(task="heartbeat", is_active=True) == older
