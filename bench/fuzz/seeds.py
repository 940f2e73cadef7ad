"""Small seed files for the upload fuzzers, built in code: a few seconds of MIT-BIH record 100 when the
PhysioNet data is at hand (``ECG_DATA_DIR``), else a synthetic beat train; nothing of PhysioNet is kept."""

import io
import json
import struct
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ecg.datasets import paths
from ecg.datasets.carts import aecg_twelve_lead, dicom_twelve_lead, synthetic_twelve_lead
from ecg.datasets.synthetic import beat_csv

FS = 360
SECONDS = 3.0


def one_lead() -> np.ndarray:
    """Three seconds of a lead in mV: MIT-BIH 100's MLII, or a synthetic one."""
    record = paths.data_dir() / "mitdb" / "100"
    if record.with_suffix(".hea").exists():
        import wfdb

        signal, _fields = wfdb.rdsamp(str(record), sampto=int(SECONDS * FS), channels=[0])
        return signal[:, 0]
    return synthetic_twelve_lead(seconds=SECONDS, fs=FS)["II"]


def two_leads() -> dict[str, np.ndarray]:
    values = one_lead()
    return {"MLII": values, "V5": 0.6 * values[::-1]}


def wfdb_record(fmt: str = "16", leads: dict[str, np.ndarray] | None = None) -> dict[str, bytes]:
    import wfdb

    leads = leads or {"MLII": one_lead()}
    with tempfile.TemporaryDirectory() as tmp:
        wfdb.wrsamp(
            "rec",
            fs=FS,
            units=["mV"] * len(leads),
            sig_name=list(leads),
            p_signal=np.column_stack(list(leads.values())),
            fmt=[fmt] * len(leads),
            write_dir=tmp,
        )
        return {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir())}


def pair(files: dict[str, bytes]) -> bytes:
    """A .hea and a .dat as one fuzz input: the header's length (2 bytes), the header, the data."""
    header = next(v for k, v in files.items() if k.endswith(".hea"))
    data = next(v for k, v in files.items() if k.endswith(".dat"))
    return struct.pack("<H", len(header)) + header + data


def zipped(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def edf(leads: dict[str, np.ndarray], *, plus: bool = True, annotate: bool = False, fs: float = FS) -> bytes:
    import pyedflib

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.edf"
        kind = pyedflib.FILETYPE_EDFPLUS if plus else pyedflib.FILETYPE_EDF
        writer = pyedflib.EdfWriter(str(path), len(leads), file_type=kind)
        writer.setSignalHeaders(
            [
                {
                    "label": label,
                    "dimension": "mV",
                    "sample_frequency": fs,
                    "physical_max": 5.0,
                    "physical_min": -5.0,
                    "digital_max": 32767,
                    "digital_min": -32768,
                }
                for label in leads
            ]
        )
        if annotate:
            writer.writeAnnotation(0.5, -1, "beat")
            writer.writeAnnotation(1.0, 0.2, "artefact")
        writer.writeSamples(list(leads.values()))
        writer.close()
        return path.read_bytes()


def signal_csv(leads: dict[str, np.ndarray], *, delimiter: str = ",", time: bool = False) -> bytes:
    names = (["time_s"] if time else []) + list(leads)
    columns = ([np.arange(len(next(iter(leads.values())))) / FS] if time else []) + list(leads.values())
    lines = [delimiter.join(names)] + [delimiter.join(f"{v:.4f}" for v in row) for row in zip(*columns)]
    return ("\n".join(lines) + "\n").encode()


def beats_xlsx(rows: int = 2) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    for line in beat_csv(rows).decode().splitlines():
        workbook.active.append([float(v) for v in line.split(",")])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def twelve_lead(seconds: float = 2.5, fs: float = 250.0) -> dict[str, np.ndarray]:
    return synthetic_twelve_lead(seconds=seconds, fs=fs)


def keras_weights_h5() -> bytes:
    """A tiny HDF5 file laid out as Keras 2 stores weights (one layer's kernel and bias)."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        group = h5.create_group("model_weights/dense/dense")
        group.create_dataset("kernel:0", data=np.zeros((4, 2), dtype="float32"))
        group.create_dataset("bias:0", data=np.zeros(2, dtype="float32"), compression="gzip")
    return buffer.getvalue()


SEEDS: dict[str, Callable[[], list[bytes]]] = {
    "wfdb": lambda: [pair(wfdb_record()), pair(wfdb_record("212", two_leads())), pair(wfdb_record("80"))],
    "wfdb-zip": lambda: [zipped(wfdb_record()), zipped(wfdb_record("212", two_leads()), zipfile.ZIP_STORED)],
    "edf": lambda: [
        edf({"ECG II": one_lead()}),
        edf(two_leads(), plus=False),
        edf({"ECG II": one_lead()}, annotate=True),
    ],
    "dicom": lambda: [dicom_twelve_lead(twelve_lead(), 250.0)],
    "aecg": lambda: [aecg_twelve_lead(twelve_lead(1.0), 250.0)],
    "csv": lambda: [
        signal_csv({"MLII": one_lead()}),
        signal_csv(two_leads(), delimiter=";", time=True),
        signal_csv({"II": one_lead()}).decode().encode("utf-16"),
    ],
    "json": lambda: [
        json.dumps({"fs": FS, "leads": {"MLII": [round(v, 3) for v in one_lead()]}, "units": "mV"}).encode(),
        json.dumps({"fs": FS, "signal": [round(v, 3) for v in one_lead()]}).encode(),
    ],
    "beats-csv": lambda: [beat_csv(2), beat_csv(2, header=True, label=True).replace(b",", b";")],
    "beats-xlsx": lambda: [beats_xlsx()],
    "api-json": lambda: [
        json.dumps({"fs": FS, "signal": [round(v, 3) for v in one_lead()]}).encode(),
        json.dumps({"fs": FS, "leads": {k: [round(x, 3) for x in v] for k, v in two_leads().items()}}).encode(),
        json.dumps({"beats": [[float(x) for x in line.split(b",")] for line in beat_csv(2).splitlines()]}).encode(),
    ],
    "api-fields": lambda: [
        json.dumps(body).encode()
        for body in (
            {"at_s": 12.5, "symptom": "palpitations", "note": "climbing stairs"},
            {"at": "2026-01-01T12:00:00+01:00", "symptom": "other", "note": "dizzy"},
            {"kind": "sleep", "start_s": 0, "end_s": 3600.0, "note": None},
            {"kind": "medication", "start": "2026-01-01T08:00:00Z"},
            {"to_class": "V", "beats": [1, 2, 3], "note": "ectopic"},
            {"to_class": "N", "family": 2},
            {"text": "Sinus rhythm.", "amends": None, "acknowledge_undecided": False},
            {"diagnosis": 3, "decision": "confirm", "note": "agreed", "after": None},
        )
    ],
    "keras-weights": lambda: [keras_weights_h5()],
}
# the streamed check of a large record reads what the whole-file readers read: the same seeds
SEEDS["wfdb-scan"] = SEEDS["wfdb"]
SEEDS["edf-scan"] = SEEDS["edf"]


def write(target: str, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for i, data in enumerate(SEEDS[target]()):
        path = directory / f"seed-{i}"
        path.write_bytes(data)
        written.append(path)
    return written
