"""Two versions of one task activated at once: one ends active, neither request fails (a real PostgreSQL)."""

import threading

import pytest
from django.db import connection

from mlmodels.models import ModelVersion
from mlmodels.services import model_version_activate

from ..conftest import model_version_from


@pytest.mark.django_db(transaction=True)
def test_two_versions_of_one_task_activated_at_once_leave_one_active_and_no_error(tiny_model_dir):
    path = tiny_model_dir / "heartbeat.keras"
    model_version_from(path, task="heartbeat", version="first")
    rivals = [model_version_from(path, task="heartbeat", version=v, active=False) for v in ("second", "third")]
    errors: list[BaseException] = []
    for _ in range(8):  # the race was lost in most rounds: the unique index refused the second activation (a 500)
        start = threading.Barrier(len(rivals))

        def activate(mv):
            try:
                start.wait()
                model_version_activate(model_version=mv)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=activate, args=(mv,)) for mv in rivals]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert ModelVersion.objects.filter(task="heartbeat", is_active=True).count() == 1
