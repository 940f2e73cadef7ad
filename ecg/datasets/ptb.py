"""PTB Diagnostic ECG Database (PhysioNet ptbdb): 10-s xlsx excerpts, raw WFDB records, Kaggle CSVs.

* xlsx excerpt: columns ``Time, ID Patient, Clock`` then 12 leads in mV (``dI dII dIII aVL aVR aVF
  V1..V6``, aVL before aVR) at 1000 Hz; the PhysioNet header of the excerpt sits beside it as
  ``<name>.txt`` (a WFDB header written by wfdb2mat, with PTB's clinical comments).
* raw record: ``patientNNN/sXXXX_re`` (.hea/.dat/.xyz), 15 signals at 1000 Hz.
* Kaggle ``ptbdb_normal.csv`` / ``ptbdb_abnormal.csv``: 187 beat values then the label (0 normal,
  1 abnormal) per row, no header; rows carry no patient id.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ecg.io.readers import Signal, read_wfdb

# Canonical lead names (PTB-XL order); PTB writes them in lower case.
LEADS_12: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_XLSX_COLUMNS = {
    "dI": "I",
    "dII": "II",
    "dIII": "III",
    "aVL": "aVL",
    "aVR": "aVR",
    "aVF": "aVF",
    **{f"V{i}": f"V{i}" for i in range(1, 7)},
}
_BY_LOWER = {name.lower(): name for name in LEADS_12}

MI = "Myocardial infarction"
HEALTHY = "Healthy control"


@dataclass(frozen=True)
class PtbHeader:
    """What a PTB header says about a record: who, why admitted, and where the excerpt starts."""

    record: str  # e.g. patient205_s0426_re
    patient_id: str  # e.g. patient205
    reason_for_admission: str
    fs: float
    n_samples: int
    first_values_mv: dict[str, float] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)

    @property
    def is_mi(self) -> bool:
        return self.reason_for_admission == MI

    @property
    def is_healthy(self) -> bool:
        return self.reason_for_admission == HEALTHY


def _comments(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        key, sep, value = line.lstrip("#").partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _header(record: str, header: Any) -> PtbHeader:  # a wfdb.Record header
    comments = _comments(list(header.comments or []))
    first = {}
    for name, init, gain in zip(header.sig_name, header.init_value or [], header.adc_gain or []):
        if name.lower() in _BY_LOWER and gain:
            first[_BY_LOWER[name.lower()]] = float(init) / float(gain)
    source = comments.get("Source", "")
    match = re.search(r"(patient\d+)", source) or re.search(r"(patient\d+)", record)
    return PtbHeader(
        record=record,
        patient_id=match.group(1) if match else record,
        reason_for_admission=comments.get("Reason for admission", ""),
        fs=float(header.fs),
        n_samples=int(header.sig_len),
        first_values_mv=first,
        comments=comments,
    )


def read_excerpt_header(path: str | Path) -> PtbHeader:
    """Parse the ``.txt`` header beside an xlsx excerpt (a WFDB header under another name)."""
    import wfdb

    path = Path(path)
    text = path.read_text(encoding="latin-1")
    name = text.split(None, 1)[0]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / f"{name}.hea").write_text(text, encoding="latin-1")
        header = wfdb.rdheader(str(Path(tmp) / name))
    return _header(path.stem, header)


def read_excerpt(path: str | Path) -> tuple[Signal, PtbHeader]:
    """A 10-s xlsx excerpt (12 leads in mV) and its header; fs comes from the header."""
    import openpyxl

    path = Path(path)
    header = read_excerpt_header(path.with_suffix(".txt"))
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        columns = [str(c).strip() if c is not None else "" for c in next(rows)]
        table = np.array([r for r in rows], dtype=object)
    finally:
        book.close()
    leads = {}
    for i, column in enumerate(columns):
        if column in _XLSX_COLUMNS:
            leads[_XLSX_COLUMNS[column]] = table[:, i].astype(np.float64)
    missing = [c for c in _XLSX_COLUMNS if _XLSX_COLUMNS[c] not in leads]
    if missing:
        raise ValueError(f"{path.name}: columns {', '.join(missing)} not found")
    ordered = {name: leads[name] for name in LEADS_12}
    return Signal(fs=header.fs, leads=ordered, units=dict.fromkeys(LEADS_12, "mV"), source_format="ptb-xlsx"), header


def first_samples_match(signal: Signal, header: PtbHeader, tolerance_mv: float = 0.0015) -> bool:
    """Does the sheet start where its header says (first sample of every lead = initial value)?"""
    return all(
        abs(signal.leads[name][0] - value) <= tolerance_mv
        for name, value in header.first_values_mv.items()
        if name in signal.leads
    )


def list_excerpts(directory: str | Path) -> list[Path]:
    return sorted(p for p in Path(directory).glob("*.xlsx") if p.with_suffix(".txt").exists())


def read_record(path: str | Path) -> tuple[Signal, PtbHeader]:
    """A raw PTB WFDB record (``.../patient001/s0010_re``), leads renamed to canonical names."""
    import wfdb

    path = Path(path)
    if path.suffix in (".hea", ".dat", ".xyz"):
        path = path.with_suffix("")
    signal = read_wfdb(path)
    header = wfdb.rdheader(str(path))
    ptb_header = _header(f"{path.parent.name}_{path.name}", header)
    renamed = {_BY_LOWER.get(name.lower(), name): values for name, values in signal.leads.items()}
    units = {_BY_LOWER.get(k.lower(), k): v for k, v in (signal.units or {}).items()}
    return Signal(fs=signal.fs, leads=renamed, units=units or None, source_format="wfdb"), ptb_header


def read_kaggle_ptb_csv(path: str | Path, label: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Kaggle ptbdb_normal.csv / ptbdb_abnormal.csv: (beats float32 (n, 187), labels int64 0/1).

    ``label`` overrides (and checks) the file's last column when given.
    """
    from ecg.datasets.kaggle import read_beat_rows

    beats, labels = read_beat_rows(path)
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError(f"{Path(path).name}: labels must be 0 (normal) or 1 (abnormal)")
    if label is not None and not np.all(labels == label):
        raise ValueError(f"{Path(path).name}: expected every row labelled {label}")
    return beats, labels.astype(np.int64)
