"""Continuous-signal uploads: read, validate, store, and cut into beats in the worker."""

import io
import json
import zipfile

from django.conf import settings

from mlmodels import readers
from mlmodels.errors import SignalError

from .ingestion import ParsedUpload, UploadError, _check_size
from .models import ECGRecording


def _read(files: dict[str, bytes], *, fs: float | None, lead: str | None) -> tuple[readers.Signal, str]:
    if len(files) > 1:
        return readers.read_wfdb_upload(files, max_bytes=settings.ECG_MAX_UPLOAD_BYTES), "wfdb"
    (name, data), = files.items()
    if name.lower().endswith((".hea", ".dat")):
        missing = ".dat" if name.lower().endswith(".hea") else ".hea"
        raise UploadError(f"a WFDB record needs both its .hea and .dat files (or one .zip holding them); {missing} is missing")
    fmt = readers.sniff_format(name, data[:4096])
    if fmt == "wfdb-zip":
        return readers.read_wfdb_zip(data, max_bytes=settings.ECG_MAX_UPLOAD_BYTES * 4), "wfdb"
    if fmt == "edf":
        return readers.read_edf(data, lead=lead), "edf"
    if fmt == "csv" and fs is None:
        raise UploadError("a CSV signal needs its sampling rate: fill in 'Sampling rate (Hz)'", field="fs")
    if fmt == "csv":
        return readers.read_csv_signal(data, fs, lead=lead), "csv"
    if fmt == "json":
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise UploadError(f"the JSON file is not valid JSON: {exc}") from None
        return readers.read_json_signal(obj, fs), "json"
    if fmt == "xlsx":
        raise UploadError("XLSX files hold beat rows; choose 'Beat file' to upload them", status=400)
    raise UploadError(f"{name!r} is not a WFDB, EDF, CSV or JSON signal", status=415)


def parse_signal_upload(
    files: dict[str, bytes], *, fs: float | None, lead: str | None
) -> tuple[ParsedUpload, bytes, str]:
    """Validate a signal upload; returns it parsed, with the bytes to store and their name."""
    if not files:
        raise UploadError("choose a file to upload")
    _check_size(sum(len(d) for d in files.values()))
    try:
        signal, fmt = _read(files, fs=fs, lead=lead)
        lead_name = signal.lead_name(lead)
        signal.validated(lead_name, max_seconds=settings.ECG_MAX_SIGNAL_SECONDS)
    except SignalError as exc:
        raise UploadError(str(exc)) from None
    if len(files) > 1:  # keep a WFDB record as one zip, under a server-chosen name
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name.rsplit("/", 1)[-1], data)
        data, filename = buffer.getvalue(), "record.zip"
    else:
        (filename, data), = files.items()
    parsed = ParsedUpload(
        kind=ECGRecording.Kind.SIGNAL,
        input_format=fmt,
        signal=signal,
        fs=signal.fs,
        lead=lead_name,
        sample_count=len(signal.leads[lead_name]),
    )
    return parsed, data, filename


def beats_from_stored_signal(recording: ECGRecording, data: bytes):
    """Beats, R-peak positions, mean heart rate and the signal-level rhythm input of a stored signal.

    VF/VFL is found from the waveform here, before the lead is let go of, so a 24-hour recording's
    signal is not held through classification.
    """
    from ecg.rhythm import vf
    from mlmodels.analysis import mean_heart_rate, segment

    name = recording.original_filename or recording.file.name
    if recording.input_format == "wfdb":
        signal = readers.read_wfdb_zip(data, max_bytes=settings.ECG_MAX_UPLOAD_BYTES * 4)
    elif recording.input_format == "edf":
        signal = readers.read_edf(data, lead=recording.lead or None)
    elif recording.input_format == "csv":
        signal = readers.read_csv_signal(data, recording.sampling_rate, lead=recording.lead or None)
    elif recording.input_format == "json":
        signal = readers.read_json_signal(json.loads(data), recording.sampling_rate)
    else:
        raise SignalError(f"{name}: unknown stored format {recording.input_format!r}")
    values = signal.validated(recording.lead or None, max_seconds=settings.ECG_MAX_SIGNAL_SECONDS)
    fs = signal.fs
    del signal  # only the analysed lead is needed from here on (another 24-hour lead is ~250 MB)
    beats, r_peaks = segment(values, fs)
    if len(beats) == 0:
        raise SignalError("no complete heartbeats could be cut from the signal")
    rhythm_input = {"fs": fs, "n_samples": len(values), "vf_found": vf.vf_events(values, fs, r_peaks)}
    return beats, r_peaks, mean_heart_rate(r_peaks, fs), rhythm_input
