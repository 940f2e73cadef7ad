import pytest
from django.urls import reverse

from mlmodels.models import ModelVersion

from ..conftest import client_for


@pytest.mark.django_db
def test_staff_cannot_reach_the_model_admin(client, staff_a, doctor_a):
    for user in (staff_a, doctor_a):
        client_for(client, user)
        response = client.get(reverse("admin:mlmodels_modelversion_changelist"))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
        client.logout()


@pytest.mark.django_db
def test_an_admin_uploads_the_seed_h5_models_and_activates_them(client, platform_admin):
    from ..data import seed_dir

    client_for(client, platform_admin)
    for task, name in [("heartbeat", "model_ECG_final.h5"), ("mi", "model_MI_final.h5")]:
        with open(seed_dir() / name, "rb") as fh:
            response = client.post(
                reverse("admin:mlmodels_modelversion_add"),
                {
                    "task": task,
                    "version": f"seed-{task}",
                    "artifact": fh,
                    "class_labels": "",
                    "threshold": "0.4" if task == "mi" else "",  # the MI screen's alone
                    "provenance": "seed",
                    "report": "",
                },
            )
        assert response.status_code == 302, response.content.decode()[-2000:]
    versions = {mv.task: mv for mv in ModelVersion.objects.all()}
    assert versions["heartbeat"].class_labels == ["N", "S", "V", "F", "Q"]
    assert versions["mi"].class_labels == ["normal", "mi"] and versions["mi"].threshold == 0.4
    assert all(mv.artifact.name.endswith(".keras") for mv in versions.values())
    assert not any(mv.is_active for mv in versions.values())
    response = client.post(
        reverse("admin:mlmodels_modelversion_changelist"),
        {"action": "activate", "_selected_action": [mv.pk for mv in versions.values()]},
    )
    assert response.status_code == 302
    assert set(ModelVersion.objects.filter(is_active=True).values_list("task", flat=True)) == {"heartbeat", "mi"}


@pytest.mark.django_db
def test_a_file_that_is_not_a_model_is_refused(client, platform_admin, tmp_path):
    client_for(client, platform_admin)
    bogus = tmp_path / "model.keras"
    bogus.write_bytes(b"not a model")
    with open(bogus, "rb") as fh:
        response = client.post(
            reverse("admin:mlmodels_modelversion_add"),
            {
                "task": "heartbeat",
                "version": "bogus",
                "artifact": fh,
                "class_labels": "",
                "threshold": "",
                "provenance": "",
                "report": "",
            },
        )
    assert response.status_code == 200 and "is not a usable model" in response.content.decode()
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
def test_activating_two_versions_of_one_task_at_once_is_refused(client, platform_admin, active_models, tiny_model_dir):
    from ..conftest import model_version_from

    other = model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="tiny-2", active=False)
    client_for(client, platform_admin)
    client.post(
        reverse("admin:mlmodels_modelversion_changelist"),
        {"action": "activate", "_selected_action": [other.pk, active_models["heartbeat"].pk]},
    )
    assert ModelVersion.objects.get(task="heartbeat", is_active=True) == active_models["heartbeat"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "task, labels, threshold, message",
    [
        ("heartbeat", ["N", "SVEB", "VEB", "F", "Q"], None, "are not the classes N, S, V, F, Q"),
        ("mi", ["mi", "normal"], 0.5, "its labels end with 'mi'"),
        ("mi", None, 7.0, "must be a score from 0 to 1; 7.0 is not"),
        ("mi", None, -0.1, "must be a score from 0 to 1; -0.1 is not"),
    ],
)
def test_labels_the_product_cannot_read_by_and_thresholds_outside_0_1_are_refused(
    tiny_model_dir, task, labels, threshold, message
):
    # 'SVEB' failed every later upload; an MI model labelled the other way round had its scores read
    # inverted; a threshold of 7 flagged nothing, in every clinic, silently
    from ecgsite.errors import ModelRejected
    from mlmodels.services import model_version_register

    name = "heartbeat.keras" if task == "heartbeat" else "mi-high.keras"
    with pytest.raises(ModelRejected, match=message):
        model_version_register(
            task=task, version="bad", source=tiny_model_dir / name, class_labels=labels, threshold=threshold
        )
    assert not ModelVersion.objects.filter(version="bad").exists()


@pytest.mark.django_db
def test_a_versions_threshold_cannot_be_edited_in_the_admin(client, admin_a, active_models):
    mi = active_models["mi"]
    client_for(client, admin_a)
    page = client.get(reverse("admin:mlmodels_modelversion_change", args=[mi.pk])).content.decode()
    assert 'name="threshold"' not in page
    # the artifact is named, not linked (stored files are not served over the web: the link was a 404)
    assert mi.artifact.name in page and f'href="{mi.artifact.url}"' not in page


@pytest.mark.django_db
def test_a_clinic_administrator_sees_the_versions_but_cannot_register_or_activate_them(
    client, admin_a, active_models, tiny_model_dir
):
    # the versions serve every clinic: one clinic's administrator must not decide the others' diagnoses
    from ..conftest import model_version_from

    other = model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="tiny-2", active=False)
    client_for(client, admin_a)
    assert client.get(reverse("admin:mlmodels_modelversion_changelist")).status_code == 200
    assert client.get(reverse("admin:mlmodels_modelversion_add")).status_code == 403
    client.post(
        reverse("admin:mlmodels_modelversion_changelist"), {"action": "activate", "_selected_action": [other.pk]}
    )
    other.refresh_from_db()
    assert not other.is_active


@pytest.mark.django_db
def test_a_clinic_administrator_posting_the_add_form_registers_nothing(client, admin_a, tiny_model_dir):
    # the add page answered their GET 403, but its POST registered the upload all the same (the view skipped the
    # admin's permission check for it), and ran every clinic administrator's file through the model loader
    client_for(client, admin_a)
    with open(tiny_model_dir / "heartbeat.keras", "rb") as fh:
        response = client.post(
            reverse("admin:mlmodels_modelversion_add"),
            {"task": "heartbeat", "version": "by-clinic-admin", "artifact": fh, "class_labels": "", "threshold": ""},
        )
    assert response.status_code == 403
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "version, content, message",
    [
        ("a/b", None, "use 1-64 letters, digits, dots, dashes or underscores"),
        ("../x", None, "use 1-64 letters"),
        ("ok-1", b"not a zip", "is not a usable model: a .keras model is a zip archive, and this file is none"),
    ],
)
def test_a_version_name_that_is_no_name_or_a_keras_file_that_is_no_zip_is_told_so(
    tmp_path, tiny_model_dir, version, content, message
):
    # they had been "upload.h5 is not a usable model: FileNotFoundError: 'b.keras'" and Keras's
    # "File not found: filepath=upload.keras" of a file that was there
    from ecgsite.errors import ModelRejected
    from mlmodels.services import model_version_register

    source = tiny_model_dir / "heartbeat.keras"
    if content is not None:
        source = tmp_path / "m.keras"
        source.write_bytes(content)
    with pytest.raises(ModelRejected, match=message):
        model_version_register(task="heartbeat", version=version, source=source)


@pytest.mark.django_db
def test_the_versions_list_heads_each_card_with_its_figure_on_unseen_patients(client, platform_admin, tiny_model_dir):
    import json
    from pathlib import Path

    from ..conftest import model_version_from

    cards = Path(__file__).resolve().parents[2] / "mlmodels" / "artifacts"
    for name, task in [("heartbeat_record-2026.12-ctx4", "heartbeat_record"), ("mi-2026.11-mi2", "mi")]:
        metrics = json.loads((cards / f"{name}.json").read_text())["metrics"]
        model_version_from(tiny_model_dir / "heartbeat.keras", task=task, version=name, active=False, metrics=metrics)
    client_for(client, platform_admin)
    page = client.get(reverse("admin:mlmodels_modelversion_changelist")).content.decode()
    # the record-level card's cross-validated S and V figures, the MI card's recording-level ones (both "—")
    assert "CV S Se 85.1% +P 71.1%, V Se 95.6% +P 92.7%" in page
    assert "recordings: roc auc 0.983, recall 0.916, specificity 0.847" in page
    assert '<td class="field-headline_metric">—</td>' not in page


@pytest.mark.django_db
def test_a_heartbeat_model_given_a_threshold_in_the_admin_is_refused_beside_the_field(client, platform_admin):
    from io import BytesIO

    client_for(client, platform_admin)
    artifact = BytesIO(b"not read")
    artifact.name = "m.keras"
    response = client.post(
        reverse("admin:mlmodels_modelversion_add"),
        {"task": "heartbeat", "version": "hb", "artifact": artifact, "class_labels": "", "threshold": "0.4"},
    )
    assert response.status_code == 200
    assert "only an MI model takes one" in response.context["adminform"].form.errors["threshold"][0]
    assert not ModelVersion.objects.exists()
