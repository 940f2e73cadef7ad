"""Two versions of one task activated at once: one ends active, neither request fails (a real PostgreSQL)."""

import threading
import time

import pytest
from django.db import connection, transaction

from mlmodels.models import ModelVersion
from mlmodels.services import model_version_activate

from ..conftest import model_version_from


def _waiting_on_a_lock(timeout: float = 20.0) -> bool:
    """Whether another connection of this database comes to wait on a lock within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_version_activated_while_another_activation_commits_becomes_the_active_one(tiny_model_dir):
    # The second activation, begun while the first had not committed, had locked only the row active when it began:
    # once the first committed, it activated its own beside the first's and the one-active index refused it (a 500)
    path = tiny_model_dir / "heartbeat.keras"
    model_version_from(path, task="heartbeat", version="first")
    second, third = (model_version_from(path, task="heartbeat", version=v, active=False) for v in ("second", "third"))
    first_done, commit = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def activate(mv, *, hold: bool) -> None:
        try:
            with transaction.atomic():
                model_version_activate(model_version=mv)
                if hold:  # activated, not yet committed
                    first_done.set()
                    assert commit.wait(30)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            first_done.set()
            connection.close()

    first = threading.Thread(target=activate, args=(second,), kwargs={"hold": True})
    first.start()
    assert first_done.wait(30)
    later = threading.Thread(target=activate, args=(third,), kwargs={"hold": False})
    later.start()
    assert _waiting_on_a_lock()  # the second activation waits for the first ...
    commit.set()  # ... which commits
    first.join()
    later.join()
    assert errors == []
    assert list(ModelVersion.objects.filter(task="heartbeat", is_active=True).values_list("version", flat=True)) == [
        "third"
    ]


def _spoil(mv, how: str, tiny_model_dir) -> None:
    from django.core.files.storage import default_storage

    if how == "gone":
        default_storage.delete(mv.artifact.name)
    else:  # written over by another file (a backup restored over it, another host)
        with default_storage.open(mv.artifact.name, "wb") as fh:
            fh.write((tiny_model_dir / "mi-high.keras").read_bytes())


@pytest.mark.django_db
@pytest.mark.parametrize("how, message", [("gone", "cannot be read"), ("changed", "not the file it was registered")])
def test_a_version_whose_stored_artifact_is_gone_or_changed_is_not_activated(
    client, platform_admin, active_models, tiny_model_dir, how, message
):
    # it was activated: every recording analysed from then on failed in the worker (the artifact is checked only
    # when a worker loads it), in every clinic, until someone activated another version
    from accounts.models import AuditEvent
    from ecgsite.errors import ModelRejected

    from ..conftest import client_for, model_version_from

    spare = model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="spare", active=False)
    name = spare.artifact.name
    _spoil(spare, how, tiny_model_dir)
    with pytest.raises(ModelRejected, match=message) as refused:
        model_version_activate(model_version=spare)
    assert refused.value.field == "artifact" and "heartbeat spare cannot be activated" in refused.value.message
    # the admin's action says so, and the version in use stays active
    client_for(client, platform_admin)
    response = client.post(
        "/admin/mlmodels/modelversion/", {"action": "activate", "_selected_action": [spare.pk]}, follow=True
    )
    shown = [str(m) for m in response.context["messages"]]
    assert len(shown) == 1 and shown[0].startswith(f"heartbeat spare cannot be activated: its stored artifact {name} ")
    assert ModelVersion.objects.get(task="heartbeat", is_active=True) == active_models["heartbeat"]
    assert not AuditEvent.objects.filter(action="activate", object_id=str(spare.pk)).exists()


@pytest.mark.django_db
def test_each_activation_is_kept_with_the_version_it_replaced_who_chose_it_and_how(
    client, platform_admin, active_models, tiny_model_dir
):
    # the audit trail named only the version activated (not the one it replaced), and an activation by a command
    # (the start-up's registration of the bundled models, register_model --activate) left no trace at all; the
    # version's activated_at is only its latest activation, moved even by activating the version already active
    from mlmodels.models import ModelActivation

    from ..conftest import client_for, model_version_from

    first = active_models["heartbeat"]
    spare = model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="spare", active=False)
    client_for(client, platform_admin)
    client.post("/admin/mlmodels/modelversion/", {"action": "activate", "_selected_action": [spare.pk]})
    spare.refresh_from_db()
    chosen_at = spare.activated_at
    model_version_activate(model_version=spare)  # already active: nothing changes
    spare.refresh_from_db()
    assert spare.activated_at == chosen_at
    model_version_activate(model_version=first)  # a rollback by a command (no user: its default)
    assert ModelVersion.objects.get(task="heartbeat", is_active=True) == first
    history = list(
        ModelActivation.objects.filter(task="heartbeat")
        .order_by("id")
        .values_list("previous__version", "model_version__version", "activated_by__username", "via")
    )
    assert history == [("tiny-1", "spare", platform_admin.username, "admin"), ("spare", "tiny-1", None, "command")]
    # the version's page shows them
    page = client.get(f"/admin/mlmodels/modelversion/{spare.pk}/change/").content.decode()
    assert f"tiny-1 → spare, by {platform_admin.username} (Admin)" in page
    assert "spare → tiny-1, by no user (Command" in page
