"""Operations: deploy checks, backups, exports and logs."""

import csv
import io
import logging
import os
import re
import secrets
import subprocess
import sys

import pytest
from django.urls import reverse

from accounts.models import AuditEvent

from .conftest import client_for
from .data import REPO_ROOT
from .helpers import beat_recording


def _deploy_check(**env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "CSRF_TRUSTED_ORIGINS"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env={**environ, "DJANGO_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(50), **env},
        capture_output=True,
        text=True,
    )


def test_the_production_settings_pass_the_deploy_checks():
    result = _deploy_check(CSRF_TRUSTED_ORIGINS="https://ecg.example.org")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "env", [{}, {"SITE_URL": "http://ecg.example.org"}, {"CSRF_TRUSTED_ORIGINS": "https://*.example.org"}]
)
def test_the_deploy_checks_want_the_sites_https_address_for_webhook_links(env):
    # unset, webhook notices linked to the development server's address, and receivers sent their token there
    result = _deploy_check(**env)
    assert result.returncode != 0 and "api.W001" in result.stdout + result.stderr


def _classified(user, patient, n=4):
    return beat_recording(user, patient, beats=n)


@pytest.mark.django_db
def test_the_csv_export_is_safe_against_formula_injection(client, staff_a, clinic_a, active_models):
    from .factories import PatientFactory

    patient = PatientFactory(
        clinic=clinic_a, mrn='=HYPERLINK("http://x")', family_name="+cmd|' /C calc'!A0", given_name="@SUM(1)"
    )
    recording = _classified(staff_a, patient)
    response = client_for(client, staff_a).get(reverse("recording-export", args=[recording.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["patient_mrn", "patient_name", "recording"]
    assert len(rows) == 1 + 4 + 3  # the header, the beats, then a blank line, the MI screen's header and its row
    for row in rows[1:5]:
        assert row[0] == '\'=HYPERLINK("http://x")' and row[1].startswith("'+cmd")
    for row in rows[1:5] + rows[-1:]:
        assert row[0] == '\'=HYPERLINK("http://x")'
        assert not any(cell.startswith(("=", "+", "@")) for cell in row)
    assert AuditEvent.objects.filter(action="export", object_type="recording", object_id=str(recording.pk)).count() == 1


@pytest.mark.django_db
def test_the_csv_export_is_safe_where_the_spreadsheet_splits_cells_at_semicolons(
    client, staff_a, clinic_a, active_models
):
    """Excel in German, French or Dutch settings reads ";" as the cell separator: a cell of ours holding ";=" then
    held a formula cell there (an MRN "A-9;=cmd|..." from a security review)."""
    from .factories import PatientFactory

    patient = PatientFactory(clinic=clinic_a, mrn="A-9;=cmd|' /C calc'!A0;", family_name="Test; @SUM(1);-2")
    recording = _classified(staff_a, patient)
    response = client_for(client, staff_a).get(reverse("recording-export", args=[recording.pk]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    for line in text.splitlines()[1:5]:
        cells = next(csv.reader([line], delimiter=";"))  # the line as such a spreadsheet splits it
        assert not any(cell.lstrip().startswith(("=", "+", "-", "@")) for cell in cells), cells
    row = next(csv.reader(io.StringIO(text.splitlines()[1])))
    assert row[0] == "A-9;'=cmd|' /C calc'!A0;" and row[1].startswith("Test;' @SUM(1);'-2")


@pytest.mark.django_db
def test_another_clinic_cannot_export(client, staff_a, staff_b, patient_a, active_models):
    recording = _classified(staff_a, patient_a)
    assert client_for(client, staff_b).get(reverse("recording-export", args=[recording.pk])).status_code == 404


@pytest.mark.django_db
def test_no_patient_data_reaches_the_application_log(client, staff_a, patient_a, active_models, caplog):
    caplog.set_level(logging.DEBUG)
    client_for(client, staff_a)
    client.post(
        reverse("patient-create"), {"mrn": "LOG-777", "family_name": "Zebedee", "given_name": "Quentin", "sex": "male"}
    )
    client.get(reverse("patient-list"), {"q": "Zebedee"})
    _classified(staff_a, patient_a)
    client.post(reverse("recording-upload", args=[patient_a.pk]), {"kind": "beats", "text": "1,2,3"})
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("LOG-777", "Zebedee", "Quentin", patient_a.mrn, patient_a.family_name):
        assert secret not in logged


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_the_database_and_the_stored_files(staff_a, patient_a, active_models, settings, tmp_path):
    from django.db import connection

    recording = _classified(staff_a, patient_a, n=9)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    subprocess.run(
        ["bash", "scripts/backup.sh", str(tmp_path / "backup")], cwd=REPO_ROOT, env=env, check=True, capture_output=True
    )

    restored = f"{db['NAME']}_restored"
    subprocess.run(["createdb", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], restored], check=True)
    try:
        media = tmp_path / "restored-media"
        env = {
            **env,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{restored}",
            "MEDIA_ROOT": str(media),
        }
        subprocess.run(
            ["bash", "scripts/restore.sh", str(tmp_path / "backup")],
            cwd=REPO_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        query = (
            f"SELECT r.status, r.file, r.beats_file, (SELECT count(*) FROM diagnostics_beat WHERE recording_id = r.id), "
            f"(SELECT mi_flag FROM diagnostics_diagnosis WHERE recording_id = r.id) FROM diagnostics_ecgrecording r WHERE r.id = {recording.pk}"
        )
        out = (
            subprocess.run(
                ["psql", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], "-d", restored, "-tAc", query],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .split("|")
        )
        assert out[0] == "done" and out[3] == "9" and out[4] == "t"
        for name in (out[1], out[2]):
            with open(os.path.join(settings.MEDIA_ROOT, name), "rb") as original:
                assert (media / name).read_bytes() == original.read()
        # The append-only audit trigger comes back with the schema.
        trigger = subprocess.run(
            [
                "psql",
                "-h",
                db["HOST"],
                "-p",
                str(db["PORT"]),
                "-U",
                db["USER"],
                "-d",
                restored,
                "-tAc",
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'accounts_auditevent_no_update_delete'",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert trigger == "1"
    finally:
        subprocess.run(["dropdb", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], restored], check=False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "command, message",
    [
        (["create_api_token", "--user", "staff_a", "--expires-days", "99999999"], "from 1 to 36500"),
        (["requeue_recordings", "--older-than", "99999999999999"], "from 0 to ten years"),
        (["requeue_recordings", "--older-than", "-5"], "from 0 to ten years"),
        (["storage_archive", "export", "/nonexistent-directory/x.tar"], "No such file or directory"),
        (["storage_archive", "export", "."], "Is a directory"),
    ],
)
def test_an_operators_command_with_a_bad_argument_says_so_without_a_traceback(staff_a, command, message):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=re.escape(message)):
        call_command(*command)


def test_the_pages_csv_export_opens_in_a_spreadsheet_with_its_accents(client, staff_a, clinic_a, active_models):
    from .factories import PatientFactory

    patient = PatientFactory(clinic=clinic_a, mrn="M-1", family_name="Müller", given_name="José")
    recording = _classified(staff_a, patient)
    data = b"".join(client_for(client, staff_a).get(reverse("recording-export", args=[recording.pk])).streaming_content)
    assert data.startswith(b"\xef\xbb\xbfpatient_mrn,")  # the byte-order mark Excel reads UTF-8 by
    assert "Müller" in data.decode("utf-8-sig") and data.count(b"\xef\xbb\xbf") == 1
