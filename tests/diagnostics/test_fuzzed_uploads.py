"""Uploads the coverage-guided fuzzers (bench/fuzz) found to fail with another exception than a refusal: each
is now refused with a 4xx naming the defect, through the whole-file reader and the bounded chunked check alike,
and nothing is stored."""

import html
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from django.urls import reverse

from diagnostics.models import ECGRecording

from ..conftest import client_for
from ..helpers import edf_bytes, upload, wfdb_files

WAVE = np.sin(np.arange(750) / 8.0)


def _refused(client, user, patient, settings, files: list[tuple[str, bytes]], *, fields=None) -> str:
    media = Path(settings.MEDIA_ROOT)
    before = sorted(p for p in media.rglob("*") if p.is_file())
    client_for(client, user)
    response = client.post(
        reverse("recording-upload", args=[patient.pk]),
        {"kind": "signal", "files": [upload(n, d) for n, d in files], **(fields or {})},
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.content.decode()[-800:])
    assert ECGRecording.objects.count() == 0
    assert sorted(p for p in media.rglob("*") if p.is_file()) == before
    return html.unescape(response.content.decode())


@pytest.fixture(params=["whole", "chunked"])
def check(request, settings):
    """The whole-file reader, or the bounded chunked check a large upload is given."""
    if request.param == "chunked":
        settings.ECG_FULL_CHECK_MAX_BYTES = 0
    return request.param


def test_an_edf_file_whose_data_records_last_no_time_is_refused(client, staff_a, patient_a, settings, check):
    data = bytearray(edf_bytes(WAVE))
    data[244:252] = b"0       "  # the data record duration: the library divided each signal's samples by it
    page = _refused(client, staff_a, patient_a, settings, [("zero.edf", bytes(data))])
    assert "data record duration is '0' s" in page


@pytest.mark.parametrize("name", ["", "."])
def test_a_zip_with_a_member_of_no_name_is_refused(client, staff_a, patient_a, settings, check, tmp_path, name):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in wfdb_files(tmp_path, WAVE):
            archive.writestr(member.name, member.getvalue())
        # "": the zip module's ZipInfo.is_dir() indexed the empty name; ".": a path of no parts, indexed for its last
        archive.writestr(zipfile.ZipInfo(name), b"0")
    page = _refused(client, staff_a, patient_a, settings, [("record.zip", buffer.getvalue())])
    assert "one of its members has no name" in page
