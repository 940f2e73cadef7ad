"""A recording moved while a separately started Celery worker processes it stays moved: the worker writes its
results by the recording's id and never writes the patient it read when it started."""

import os
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from diagnostics import services
from diagnostics.models import ECGRecording, RecordingMove
from mlmodels.services import model_version_activate

from ..conftest import model_version_from, wait_for_status
from ..factories import PatientFactory
from ..helpers import beat_recording

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_move_made_while_the_worker_processes_the_recording_survives_its_completion(
    celery_worker, staff_a, doctor_a, patient_a, clinic_a, tiny_model_dir
):
    right = PatientFactory(clinic=clinic_a, mrn="A-0002", family_name="Brandt")
    # the MI model inactive: the upload waits, queued, while its stored file is made to hold the worker up
    model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="mv-1")
    mi = model_version_from(tiny_model_dir / "mi-high.keras", task="mi", version="mv-1", active=False, threshold=0.5)
    recording = beat_recording(staff_a, patient_a, beats=12, classify=False)
    stored = Path(settings.MEDIA_ROOT) / recording.file.name
    content = stored.read_bytes()
    # A named pipe in its place: the worker, once it has claimed the recording and read its row (the patient
    # among it), waits in reading the file until this test writes it, after the move.
    stored.unlink()
    os.mkfifo(stored)
    try:
        model_version_activate(model_version=mi)  # sends the waiting recording to the worker
        wait_for_status(recording, statuses=("processing",), timeout=60)
        time.sleep(0.5)  # past its read of the recording's row, into the file
        services.recording_move(
            recording=recording, patient=right, by=doctor_a, reason="Filed under the wrong patient."
        )
        assert ECGRecording.objects.get(pk=recording.pk).status == "processing"  # moved while it works

        def feed() -> None:
            with open(stored, "wb") as pipe:  # opens once the worker reads
                pipe.write(content)

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        recording = wait_for_status(recording)
        writer.join(timeout=10)
    finally:
        if stored.is_fifo():
            stored.unlink()
            stored.write_bytes(content)
    assert recording.status == "done", recording.error_message
    assert recording.patient_id == right.pk and recording.diagnosis.beat_count == 12
    assert RecordingMove.objects.get().to_patient_id == right.pk
    assert list(right.recordings.values_list("pk", flat=True)) == [recording.pk]
