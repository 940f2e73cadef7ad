"""The record of which model version diagnosed what: activations kept as made, a version's description fixed once
diagnoses point at it, and an import stopped from outside told as such."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from accounts.models import AuditEvent
from ecgsite.errors import ModelRejected
from mlmodels.models import ModelActivation, ModelVersion
from mlmodels.services import artifact_convert, model_version_activate

from ..api.conftest import classify_by_hand, submit_beats
from ..conftest import client_for, model_version_from
from ..helpers import upload


@pytest.fixture
def api_as():
    """An API client authenticated with a fresh token of ``user`` (as the API tests' own)."""
    from rest_framework.test import APIClient

    from api.services import api_token_create

    def _client(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=user)[1]}")
        return client

    return _client


@pytest.mark.django_db
def test_the_database_refuses_to_change_or_remove_an_activation(active_models, tiny_model_dir):
    # ModelActivation is the record of which version analysed a task's recordings from when to when: written only by
    # model_version_activate, but an UPDATE or DELETE (a shell, a script, a fixture loaded over it) went through
    spare = model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="spare", active=False)
    model_version_activate(model_version=spare)
    row = ModelActivation.objects.get(model_version=spare)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ModelActivation.objects.filter(pk=row.pk).update(via="api")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ModelActivation.objects.filter(pk=row.pk).delete()
    assert ModelActivation.objects.get(pk=row.pk).via == "command"
    # nor is one saved over or removed through the model
    with pytest.raises(PermissionError):
        row.save()
    with pytest.raises(PermissionError):
        row.delete()


@pytest.mark.django_db
def test_activating_the_version_already_active_says_so_and_records_nothing(
    client, api_as, platform_admin, active_models, tiny_model_dir
):
    # the admin said "Activated heartbeat tiny-1." and wrote an activation to the audit trail, as the API did, of a
    # choice that changed nothing
    active = active_models["heartbeat"]
    activations = ModelActivation.objects.count()
    client_for(client, platform_admin)
    response = client.post(
        reverse("admin:mlmodels_modelversion_changelist"),
        {"action": "activate", "_selected_action": [active.pk]},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert shown == [f"{active} is already the active version: nothing changed."]
    assert not AuditEvent.objects.filter(action="activate").exists()
    response = api_as(platform_admin).post(f"/api/v1/model-versions/{active.pk}/activate")
    assert response.status_code == 200 and response.json()["is_active"] is True
    assert not AuditEvent.objects.filter(action="activate").exists()
    # nor does registering it again with activate
    mi = active_models["mi"]
    response = api_as(platform_admin).post(
        "/api/v1/model-versions",
        {
            "task": "mi",
            "version": mi.version,
            "threshold": "0.5",
            "activate": "true",
            "artifact": upload("mi.keras", (tiny_model_dir / "mi-high.keras").read_bytes()),
        },
        format="multipart",
    )
    assert response.status_code == 201 and response.json()["id"] == mi.pk, response.content
    assert not AuditEvent.objects.filter(action="activate").exists()
    assert ModelActivation.objects.count() == activations
    active.refresh_from_db()
    assert (
        response.json()["activated_at"]
        == api_as(platform_admin).get(f"/api/v1/model-versions/{active.pk}").json()["activated_at"]
    )


@pytest.mark.django_db
def test_an_activation_that_changes_the_active_version_is_audited_once(
    client, api_as, platform_admin, active_models, tiny_model_dir
):
    spare = model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="spare", active=False)
    response = api_as(platform_admin).post(f"/api/v1/model-versions/{spare.pk}/activate")
    assert response.status_code == 200
    assert list(AuditEvent.objects.filter(action="activate").values_list("object_id", flat=True)) == [str(spare.pk)]
    client_for(client, platform_admin)
    first = active_models["heartbeat"]
    response = client.post(
        reverse("admin:mlmodels_modelversion_changelist"),
        {"action": "activate", "_selected_action": [first.pk]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == [f"Activated {first}."]
    assert AuditEvent.objects.filter(action="activate", object_id=str(first.pk)).count() == 1


def _diagnosed_with(active_models, staff_a, patient_a):
    recording = submit_beats(staff_a, patient_a)
    return classify_by_hand(recording, active_models)


@pytest.mark.django_db
def test_a_version_that_diagnosed_recordings_keeps_its_evaluation_and_provenance(
    client, api_as, platform_admin, staff_a, patient_a, active_models
):
    # a superuser could rewrite the evaluation report and the training data provenance of a version after diagnoses
    # were made with it: what a clinician reads of the model behind a diagnosis was then not what it had been
    mi = active_models["mi"]
    ModelVersion.objects.filter(pk=mi.pk).update(report="evaluated on PTB-XL", provenance="PTB-XL folds 1-8")
    url = reverse("admin:mlmodels_modelversion_change", args=[mi.pk])
    client_for(client, platform_admin)
    # before any diagnosis, a typo may still be put right
    assert 'name="report"' in client.get(url).content.decode()
    _diagnosed_with(active_models, staff_a, patient_a)
    page = client.get(url).content.decode()
    assert 'name="report"' not in page and 'name="provenance"' not in page
    assert "evaluated on PTB-XL" in page and "PTB-XL folds 1-8" in page
    assert "diagnosed recordings" in page  # why they cannot be edited
    client.post(url, {"report": "rewritten", "provenance": "rewritten", "_save": "Save"})
    mi.refresh_from_db()
    assert (mi.report, mi.provenance) == ("evaluated on PTB-XL", "PTB-XL folds 1-8")
    # the API changes no version (it registers and activates them)
    api = api_as(platform_admin)
    for method in ("patch", "put"):
        response = getattr(api, method)(f"/api/v1/model-versions/{mi.pk}", {"report": "rewritten"}, format="json")
        assert response.status_code == 405, response.content
    mi.refresh_from_db()
    assert mi.report == "evaluated on PTB-XL"


def _children_running(module: str) -> list[int]:
    """This process's children whose command line runs ``module``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and module in command:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGKILL])
def test_an_import_stopped_by_a_signal_from_outside_is_not_told_it_needed_more_memory(
    settings, tiny_model_dir, tmp_path, sent
):
    # an operator's SIGTERM or SIGKILL to the import (or a service manager's, stopping the web process) was reported
    # as "it needs more than 2147483648 bytes of memory": the administrator was sent to look for a smaller model
    outcome: list[BaseException] = []

    def convert() -> None:
        try:
            artifact_convert(src=tiny_model_dir / "heartbeat.keras", dst=tmp_path / "out.keras")
        except BaseException as exc:  # noqa: BLE001 - asserted below
            outcome.append(exc)

    worker = threading.Thread(target=convert)
    worker.start()
    deadline = time.monotonic() + 60
    children: list[int] = []
    while not children and time.monotonic() < deadline and worker.is_alive():
        children = _children_running("ecg.models.keras_import")
        time.sleep(0.02)
    assert children, "the import's process was not seen"
    os.kill(children[0], sent)
    worker.join(60)
    assert len(outcome) == 1 and isinstance(outcome[0], ModelRejected)
    message = outcome[0].message
    assert "needs more than" not in message, message
    assert f"stopped by {sent.name}" in message and "nothing was registered" in message
