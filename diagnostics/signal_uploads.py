"""Continuous-signal uploads: read, validate, store, and cut into beats in the worker."""

import hashlib
import io
import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.utils import timezone

from ecg.io import readers
from ecg.io.errors import SignalError
from ecg.models.classify import MiInput, mi_input
from ecg.processing.context import BeatContext
from ecg.processing.mi_screen import choose_lead
from ecgsite.errors import UnsupportedUpload, UploadRefused, UploadTooLarge

from .ingestion import ParsedUpload, check_size, json_loads
from .models import ECGRecording

LEAD_MAX_LENGTH = cast(int, ECGRecording._meta.get_field("lead").max_length)
# Formats whose files state their sampling rate: a rate given beside one must agree with it.
RATE_STATED_BY = {"wfdb": "WFDB record", "edf": "EDF file", "dicom": "DICOM file", "aecg": "HL7 aECG file"}


def reader_limits() -> dict:
    """The size limits every reader of an uploaded or stored signal is given."""
    return {"max_columns": settings.ECG_MAX_COLUMNS}


def timed_reader_limits() -> dict:
    """The limits of readers whose files declare their length before the samples (DICOM, aECG, WFDB)."""
    return reader_limits() | {"max_seconds": settings.ECG_MAX_SIGNAL_SECONDS}


# A zipped WFDB record may expand to this many times ECG_MAX_UPLOAD_BYTES: a 24-hour record too large as
# .hea + .dat fits as one .zip, as the size refusal tells staff (ingestion.check_size; a UX review's 33 MB
# Holter record). The web process checks one that large in bounded memory (parse_streamed_signal_upload).
WFDB_ZIP_EXPANSION = 4
# a WFDB record's files are kept as one zip whose entries carry this time, the earliest a zip can say, not the
# upload's: the same files make the same bytes, and an upload of them again is known as the same file
ZIP_ENTRY_TIME = (1980, 1, 1, 0, 0, 0)


def wfdb_max_bytes() -> int:
    """What a WFDB record's files may hold once extracted from its zip."""
    return settings.ECG_MAX_UPLOAD_BYTES * WFDB_ZIP_EXPANSION


def wfdb_max_samples(*, whole: bool) -> tuple[int, str]:
    """The most samples, all signals together, a WFDB record may declare, and the settings that say so.

    Any record: what its files may hold once extracted, at one sample a byte (formats 8 and 80, the densest
    of fixed size; a FLAC record, which packs far more, is held to the same), so that the worker can read
    whole what the web process checked in chunks. A record the web process reads ``whole``: besides, what
    ECG_FULL_CHECK_MAX_BYTES holds at one a byte (a record declaring more is checked in chunks instead,
    :func:`parse_streamed_signal_upload`).
    """
    if whole and settings.ECG_FULL_CHECK_MAX_BYTES < wfdb_max_bytes():
        return settings.ECG_FULL_CHECK_MAX_BYTES, "ECG_FULL_CHECK_MAX_BYTES, one sample a byte"
    return wfdb_max_bytes(), f"ECG_MAX_UPLOAD_BYTES × {WFDB_ZIP_EXPANSION}, one sample a byte"


# The setting behind each kind of limit a reader refuses an upload for (SignalError.limit); a WFDB record's
# samples are held to the setting its caller names.
_LIMIT_SETTINGS = {"columns": "ECG_MAX_COLUMNS", "seconds": "ECG_MAX_SIGNAL_SECONDS", "bytes": "ECG_MAX_UPLOAD_BYTES"}


def _refusal(exc: SignalError, *, samples_setting: str) -> UploadRefused:
    """A reader's refusal as the upload's: 413 naming the setting of a limit exceeded, else 400 naming the
    field at fault (a lead or sampling rate given that the file cannot go with, else the file)."""
    if exc.limit_exceeded:
        setting = samples_setting if exc.limit == "samples" else _LIMIT_SETTINGS.get(exc.limit, "ECG_MAX_COLUMNS")
        return UploadTooLarge(f"{exc} ({setting})")
    return UploadRefused(str(exc), field=exc.about or "file")


def _read(
    files: dict[str, bytes], *, fs: float | None, lead: str | None, max_samples: int
) -> tuple[readers.Signal, str]:
    if len(files) > 1:
        signal = readers.read_wfdb_upload(
            files, max_bytes=settings.ECG_MAX_UPLOAD_BYTES, max_samples=max_samples, **timed_reader_limits()
        )
        return signal, "wfdb"
    ((name, data),) = files.items()
    if name.lower().endswith((".hea", ".dat")):
        missing = ".dat" if name.lower().endswith(".hea") else ".hea"
        raise UploadRefused(
            f"a WFDB record needs both its .hea and .dat files (or one .zip holding them); {missing} is missing"
        )
    fmt = readers.sniff_format(name, data[:4096])
    if fmt == "wfdb-zip":
        signal = readers.read_wfdb_zip(
            data, max_bytes=wfdb_max_bytes(), max_samples=max_samples, **timed_reader_limits()
        )
        return signal, "wfdb"
    if fmt == "dicom":  # a deflated dataset inflates to no more than a plain file may hold
        return readers.read_dicom(data, max_bytes=settings.ECG_MAX_UPLOAD_BYTES, **timed_reader_limits()), "dicom"
    if fmt == "aecg":
        return readers.read_aecg(data, **timed_reader_limits()), "aecg"
    if fmt == "edf":
        return readers.read_edf(data, lead=lead, **reader_limits()), "edf"
    if fmt == "csv" and fs is None:
        raise UploadRefused("a CSV signal needs its sampling rate: fill in 'Sampling rate (Hz)'", field="fs")
    if fmt == "csv":
        assert fs is not None  # refused above
        return readers.read_csv_signal(data, fs, lead=lead, **reader_limits()), "csv"
    if fmt == "json":
        return readers.read_json_signal(json_loads(data), fs, **reader_limits()), "json"
    if fmt == "xlsx":
        raise UploadRefused(
            "XLSX files are read as beat rows (choose 'Beat file'); a signal in a spreadsheet, one column per "
            "lead, must be saved as CSV and uploaded with its sampling rate"
        )
    raise UnsupportedUpload(f"{name!r} is not a WFDB, EDF, DICOM, HL7 aECG, CSV or JSON signal")


def parse_signal_upload(
    files: dict[str, bytes], *, fs: float | None, lead: str | None
) -> tuple[ParsedUpload, bytes, str]:
    """Validate a signal upload, read whole; returns it parsed, with the bytes to store and their name.

    A WFDB record is read whole only up to ``wfdb_max_samples(whole=True)`` (413 beyond: the upload path
    checks a larger one in chunks, :func:`parse_streamed_signal_upload`)."""
    if not files:
        raise UploadRefused("choose a file to upload")
    check_size(sum(len(d) for d in files.values()), list(files))
    max_samples, samples_setting = wfdb_max_samples(whole=True)
    try:
        signal, fmt = _read(files, fs=fs, lead=lead, max_samples=max_samples)
        for name in signal.leads:
            readers.check_lead_name(name)
        _check_form_rate(signal.fs, fs, fmt)
        lead_name = signal.lead_name(lead)
        if len(lead_name) > LEAD_MAX_LENGTH:
            raise UploadRefused(
                f"the lead name {lead_name[:20]!r}… is {len(lead_name)} characters; at most {LEAD_MAX_LENGTH} "
                "are accepted (rename the column, or name a shorter lead to analyse)"
            )
        signal.validated(lead_name, max_seconds=settings.ECG_MAX_SIGNAL_SECONDS)
    except MemoryError:  # a header declaring more than could ever be read; the library's message names sizes only
        raise UploadTooLarge("the file declares more samples than can be read") from None
    except SignalError as exc:
        raise _refusal(exc, samples_setting=samples_setting) from None
    if len(files) > 1:  # keep a WFDB record as one zip, under a server-chosen name (the same files, the same bytes)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in sorted((name.rsplit("/", 1)[-1], data) for name, data in files.items()):
                entry = zipfile.ZipInfo(name, date_time=ZIP_ENTRY_TIME)
                entry.external_attr = 0o600 << 16
                archive.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
        data, filename = buffer.getvalue(), wfdb_display_name(files)
    else:
        ((filename, data),) = files.items()
    parsed = ParsedUpload(
        kind=ECGRecording.Kind.SIGNAL,
        input_format=fmt,
        signal=signal,
        fs=signal.fs,
        lead=lead_name,
        leads=list(signal.lead_order),
        sample_count=len(signal.leads[lead_name]),
        recorded_at=recorded_at(signal.start),
    )
    return parsed, data, filename


EARLIEST_START = 1950  # the year before which no stated start is taken (Holter recording began in the 1960s)


def recorded_at(start: datetime | None) -> datetime | None:
    """A file's stated start as a moment, in the site's TIME_ZONE (the zone the pages and reports are written in).

    A naive start, the file's own wall-clock time without a zone, is read as a time in TIME_ZONE, so the pages
    show the time the file says. An aware one, from a file that states its offset from UTC (DICOM, HL7 aECG),
    already names its moment: it is kept, and shown as the site's wall clock then.

    A start before ``EARLIEST_START`` or more than a day after now is no start a recorder could have
    made (a clock never set, or a hostile header at year 1 or 9999, whose arithmetic overflows): unknown;
    so is a naive time the zone skips when its clocks go forward. One it repeats when they go back is
    read as the first (summer time).
    """
    if start is None:
        return None
    zone = timezone.get_default_timezone()
    try:
        moment = timezone.localtime(start, zone) if timezone.is_aware(start) else timezone.make_aware(start, zone)
        if timezone.is_naive(start) and moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != start:
            return None  # a time of day the zone skips (the hour clocks go forward): no moment had it
    except (OverflowError, ValueError):
        return None
    if moment.year < EARLIEST_START or moment > timezone.now() + timedelta(days=1):
        return None
    return moment


def parse_streamed_signal_upload(uploads: list, *, fs: float | None, lead: str | None):
    """A large WFDB (.hea + .dat, or one .zip) or EDF upload checked in bounded memory; None for other formats,
    and for one small enough to be read whole (:func:`parse_signal_upload`).

    Large is what the web process would hold, against ECG_FULL_CHECK_MAX_BYTES: an EDF file's bytes; a WFDB
    record's files once extracted from its zip (a small zip expands to much more), or the samples its header
    declares, all signals together, at one a byte (a FLAC record declares far more samples than its bytes).
    The web process checks the header, the data size against it and the chosen lead in float32 chunks
    (finite samples, not a flat line), never holding the signal and running no R-peak detector: the worker
    reads it whole and fails the recording with the reason if no heartbeat can be found. Returns the parsed
    upload, a file to store (a zip or EDF file as uploaded, .hea + .dat as one uncompressed zip) and its name.
    """
    if len(uploads) == 1:
        upload = uploads[0]
        upload.seek(0)
        head = upload.read(4096)
        upload.seek(0)
        try:
            fmt = readers.sniff_format(upload.name, head)
        except SignalError:
            return None  # the full reader words the refusal
        if fmt not in ("edf", "wfdb-zip") or (fmt == "edf" and upload.size <= settings.ECG_FULL_CHECK_MAX_BYTES):
            return None
    else:
        fmt = "wfdb"
    stored_format = "edf" if fmt == "edf" else "wfdb"
    max_samples, samples_setting = wfdb_max_samples(whole=False)
    try:
        with tempfile.TemporaryDirectory(prefix="ecg-upload-") as tmp:
            if fmt == "edf":
                header = readers.scan_edf(
                    _local_copy(uploads[0], Path(tmp), "upload.edf"),
                    lead,
                    max_seconds=settings.ECG_MAX_SIGNAL_SECONDS,
                    **reader_limits(),
                )
            else:
                record = _large_wfdb_record(uploads, Path(tmp), zipped=fmt == "wfdb-zip")
                if record is None:
                    return None
                header = readers.scan_wfdb(
                    record,
                    lead,
                    max_seconds=settings.ECG_MAX_SIGNAL_SECONDS,
                    max_samples=max_samples,
                    **reader_limits(),
                )
        _check_form_rate(header.fs, fs, stored_format)
        for name in header.leads:
            readers.check_lead_name(name)
    except SignalError as exc:
        raise _refusal(exc, samples_setting=samples_setting) from None
    if len(header.lead) > LEAD_MAX_LENGTH:
        raise UploadRefused(
            f"the lead name {header.lead[:20]!r}… is {len(header.lead)} characters; at most {LEAD_MAX_LENGTH} "
            "are accepted (rename the column, or name a shorter lead to analyse)"
        )
    parsed = ParsedUpload(
        kind=ECGRecording.Kind.SIGNAL,
        input_format=stored_format,
        fs=header.fs,
        lead=header.lead,
        leads=header.leads,  # named by the header, as the worker's full read will find them
        sample_count=header.n_samples,
        recorded_at=recorded_at(header.start),
    )
    if len(uploads) == 1:  # an EDF file, or a WFDB record's zip
        uploads[0].seek(0)
        return parsed, uploads[0], uploads[0].name
    stored, sha256 = _stored_zip(uploads)
    parsed.extras["sha256"] = sha256
    return parsed, stored, wfdb_display_name({u.name: None for u in uploads})


def _large_wfdb_record(uploads: list, folder: Path, *, zipped: bool) -> Path | None:
    """The WFDB record of ``uploads`` (one zip, extracted, or its files) in ``folder``, as its path without
    extension; None when it is small enough to be read whole (its files, extracted, and the samples its header
    declares within ECG_FULL_CHECK_MAX_BYTES), or holds no single header (the full reader's messages say which).
    """
    if zipped:
        uploads[0].seek(0)
        sizes = readers.extract_wfdb_zip(uploads[0], folder, max_bytes=wfdb_max_bytes())
        uploads[0].seek(0)
        headers = [n for n in sizes if n.lower().endswith(".hea")]
        if len(headers) != 1:
            return None
        text, extracted = (folder / headers[0]).read_bytes(), sum(sizes.values())
    else:
        named = {readers._safe_name(u.name, "upload"): u for u in uploads}
        headers = [n for n in named if n.lower().endswith(".hea")]
        if len(headers) != 1:
            return None
        named[headers[0]].seek(0)
        text, extracted = named[headers[0]].read(), sum(u.size for u in uploads)
        named[headers[0]].seek(0)
    limit = settings.ECG_FULL_CHECK_MAX_BYTES
    if extracted <= limit and readers.wfdb_declared_samples(text, extracted) <= limit:
        return None
    if not zipped:
        for name, upload in named.items():
            _local_copy(upload, folder, name)
    return folder / headers[0][:-4]


def _check_form_rate(file_fs: float, fs: float | None, fmt: str) -> None:
    """Refuse a sampling rate given with a file that states another (JSON files check their own); the
    error names ``fs`` (``SignalError.about``), which the callers' handler makes the refusal's field."""
    if fmt in RATE_STATED_BY:
        readers.check_form_rate(file_fs, fs, RATE_STATED_BY[fmt])


def wfdb_display_name(names) -> str:
    """A WFDB record's files as the staff chose them ("100.hea + 100.dat"), header first: the name
    its recording shows (they are stored together in one zip)."""
    plain = sorted((str(n).rsplit("/", 1)[-1] for n in names), key=lambda n: (not n.lower().endswith(".hea"), n))
    text = " + ".join(plain)
    return text if len(text) <= 255 else text[:254] + "…"


def _local_copy(upload, directory: Path, name: str) -> Path:
    """The upload as a file in ``directory``: a link to Django's temporary file when it has one."""
    path = directory / name
    if hasattr(upload, "temporary_file_path"):
        os.symlink(upload.temporary_file_path(), path)
        return path
    with open(path, "wb") as fh:
        for chunk in upload.chunks():
            fh.write(chunk)
    return path


def _stored_zip(uploads: list) -> tuple[File, str]:
    """The WFDB files as one zip and its SHA-256, written once to a temporary upload file.

    Stored without compression (format-16 data barely compresses, and deflating a 24-hour record
    would cost the request seconds) and hashed as it is written; the local storage then moves the
    file into place instead of copying it. The same files make the same bytes: in the order of their
    names, with no time of upload, so that a record uploaded again is known as the same file.
    """
    out = TemporaryUploadedFile("record.zip", "application/zip", 0, None)
    fh = out.file
    assert fh is not None  # a new temporary file
    writer = _HashingWriter(fh)
    named = sorted((upload.name.rsplit("/", 1)[-1], index, upload) for index, upload in enumerate(uploads))
    with zipfile.ZipFile(writer, "w", zipfile.ZIP_STORED) as archive:
        for name, _index, upload in named:
            entry = zipfile.ZipInfo(name, date_time=ZIP_ENTRY_TIME)
            entry.external_attr = 0o600 << 16  # as the writer sets for a name
            with archive.open(entry, "w", force_zip64=upload.size > 1 << 30) as member:
                for chunk in upload.chunks():
                    member.write(chunk)
    fh.flush()
    out.size = fh.tell()
    out.seek(0)
    return out, writer.digest.hexdigest()


class _HashingWriter:
    """A write-only stream that hashes what passes through. It cannot seek, so zipfile writes each
    member once, in order (with data descriptors), and the hash is that of the file as stored."""

    def __init__(self, fh) -> None:
        self.fh, self.digest = fh, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.fh.write(data)

    def tell(self) -> int:
        return self.fh.tell()

    def flush(self) -> None:
        self.fh.flush()

    def close(self) -> None:
        """The zip is done; the temporary file stays open for the storage to take."""


@dataclass
class SignalInput:
    """What the worker classifies of a stored signal: one row per detected R-peak."""

    beats: np.ndarray  # Kaggle-format beats, for the beat-format and MI models
    positions: np.ndarray | None  # R-peak sample indices in the original signal; None for beat rows
    heart_rate: float | None
    context: BeatContext | None  # the record-level model's inputs, when asked for
    rhythm: dict | None = None  # analyse_rhythm's signal-level inputs (fs, n_samples, VF/VFL, per-beat measures)
    mi: MiInput | None = None  # the MI screen's lead and its beats; None for beat rows (no lead, no timing)
    lead_names: tuple[str, ...] = ()  # the leads of the record-level inputs: the analysed lead, then the second if any


def beats_from_stored_signal(recording: ECGRecording, *, with_context: bool = False) -> SignalInput:
    """Beats, R-peak positions, mean heart rate and the signal-level rhythm input of a stored signal.

    With ``with_context`` (a record-level model is active) every detected beat is kept, the last
    one included, and the record-level inputs are computed from the analysed lead and one other.
    What the rhythm analysis needs of the waveform (VF/VFL episodes, the stretches too noisy to read,
    each beat's P-wave repetition, atrial organisation and QRS amplitude) is measured here, before the
    lead is let go of, so a 24-hour recording's signal is not held through classification.
    """
    from ecg.processing.context import analyse, detection_leads, other_lead_name, pause_measures
    from ecg.processing.segmenting import mean_heart_rate, segment
    from ecg.rhythm import noise, signal_loss, vf
    from ecg.rhythm.analysis import waveform_measures

    from .selectors import recording_stored_signal

    signal = recording_stored_signal(recording=recording)
    lead = signal.lead_name(recording.lead or None)
    values = signal.validated(lead, max_seconds=settings.ECG_MAX_SIGNAL_SECONDS)  # lost samples bridged
    lost = signal.lost_spans(lead)
    fs = signal.fs
    second_name = other_lead_name(signal.leads, lead) if with_context else None
    second = None if second_name is None else signal.leads[second_name]
    more = [v for v in detection_leads(signal.leads, lead) if v is not second] if with_context else None
    choice = choose_lead(list(signal.leads), duration_s=len(values) / fs)
    mi_leads = {name: signal.leads[name] for name in choice.source}  # none unless a lead qualifies
    del signal  # only the analysed leads (and the MI lead) are needed from here on (a 24-hour lead is ~250 MB)
    if with_context:
        beats, context = analyse(values, fs, second, more=more, lost=lost)
        r_peaks = context.r_peaks
    else:
        beats, r_peaks = segment(values, fs)
        kept = ~signal_loss.overlapping(lost, r_peaks, r_peaks)  # no beat on a lost sample's bridge
        beats, r_peaks = beats[kept], r_peaks[kept]
        context = None
    no_signal = signal_loss.stretches(values, fs, lost)
    vf_found = vf.vf_events(values, fs, r_peaks, no_signal)
    if len(beats) == 0 and not vf_found:  # a strip in VF has no beat to cut, and its VF is the result
        raise SignalError(
            "no heartbeats could be found in the signal"
            if with_context
            else "no complete heartbeats could be cut from the signal"
        )
    mi = mi_input(mi_leads, fs, r_peaks, analysed=lead, analysed_beats=beats, choice=choice)
    measures = waveform_measures(values, fs, r_peaks)
    if context is not None:
        measures |= pause_measures(context)  # which small marks end no pause
    rhythm = {
        "fs": fs,
        "n_samples": len(values),
        "vf_found": vf_found,
        "no_signal": no_signal,
        # too noisy to read: left out of the beat-based rhythm (both leads' own beats compared where there are two)
        "noisy": noise.noisy(values, fs, r_peaks, context.lead_peaks if context is not None else ()),
        "measures": measures,
    }
    names = (lead,) if second_name is None else (lead, second_name)
    return SignalInput(beats, r_peaks, mean_heart_rate(r_peaks, fs), context, rhythm, mi, names if with_context else ())
