"""MI-vs-normal beat dataset from PTB (xlsx excerpts, raw records) and PTB-XL, per record and patient.

Harmonisation of the sources (both end up as Kaggle-format beats, 187 values at 120 Hz):
* units: PTB is in mV, PTB-XL is z-scored per lead; the beat cut min-max scales every beat to
  [0, 1], so amplitude units drop out; we still z-score PTB leads so the R-peak detector sees the
  same scale.
* filtering: PTB-XL was band-passed 0.5-40 Hz (4th-order Butterworth, zero phase); we apply the
  same filter to PTB signals (``filtered=False`` gives the unfiltered beats an upload yields).
* sampling rate: 1000 Hz (PTB) and 500 Hz (PTB-XL) both go through ``extract_beats``, which
  resamples to 360 Hz (anti-aliased polyphase filter) and keeps every 3rd sample.
R-peaks come from the product's detector; beats are kept only where they look plausible.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

import numpy as np
from scipy import signal as sps

from ecg.constants import BEAT_LENGTH
from ecg.datasets import ptb, ptbxl
from ecg.processing.beats import extract_beats
from ecg.processing.detection import detect_r_peaks

LABELS: tuple[str, ...] = ("normal", "mi")
BAND_HZ = (0.5, 40.0)
EXCERPT_SECONDS = 10.0
# Plausibility: a 10-s excerpt has at least 4 beats and a heart rate of 30-200 bpm; a beat whose
# shape barely resembles the recording's median beat (r < 0.5) is a misplaced peak or an artefact.
MIN_BEATS = 4
RR_RANGE_S = (0.3, 2.0)
MIN_CORRELATION = 0.5
# patient248_s0481_re: the sheet does not start where its header says (README of the data).
MISALIGNED = frozenset({"patient248_s0481_re"})
_VERSION = "1"


@dataclass(frozen=True)
class MiRecord:
    record: str
    patient_id: str
    source: str  # ptb | ptbxl | ptbdb
    label: int  # 1 = MI
    uncertain: bool = False  # PTB-XL MI statements only "possible" (likelihood 15)
    n_beats: int = 0
    note: str = ""


@dataclass(frozen=True)
class MiBeats:
    """Beats (n, 187) float32 with label (1 = MI), record, patient_id, source and uncertain flag."""

    beats: np.ndarray
    labels: np.ndarray
    records: np.ndarray
    patient_ids: np.ndarray
    sources: np.ndarray
    uncertain: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> "MiBeats":
        return MiBeats(
            self.beats[mask],
            self.labels[mask],
            self.records[mask],
            self.patient_ids[mask],
            self.sources[mask],
            self.uncertain[mask],
        )

    @staticmethod
    def concat(parts: list["MiBeats"]) -> "MiBeats":
        if not parts:
            return MiBeats(
                np.zeros((0, BEAT_LENGTH), np.float32),
                np.zeros(0, np.int64),
                np.zeros(0, "<U32"),
                np.zeros(0, "<U32"),
                np.zeros(0, "<U32"),
                np.zeros(0, bool),
            )
        return MiBeats(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("beats", "labels", "records", "patient_ids", "sources", "uncertain")
            )
        )

    def patients(self) -> dict[str, int]:
        """Patient id -> label (one label per patient)."""
        return dict(zip(self.patient_ids.tolist(), self.labels.tolist()))


def harmonise(x: np.ndarray, fs: float) -> np.ndarray:
    """PTB-XL's preprocessing: 0.5-40 Hz 4th-order Butterworth band-pass (filtfilt), then z-score."""
    b, a = sps.butter(4, BAND_HZ, btype="bandpass", fs=fs)
    y = sps.filtfilt(b, a, np.asarray(x, dtype=np.float64))
    std = y.std()
    return cast(np.ndarray, (y - y.mean()) / std if std > 0 else y - y.mean())


def plausible_beats(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, str]:
    """Beats, their R-peaks, and '' or the reason the recording gave none."""
    r_peaks = detect_r_peaks(x, fs)
    if len(r_peaks) < MIN_BEATS:
        return np.zeros((0, BEAT_LENGTH), np.float32), np.zeros(0, np.int64), f"{len(r_peaks)} R-peaks"
    median_rr = float(np.median(np.diff(r_peaks))) / fs
    if not RR_RANGE_S[0] <= median_rr <= RR_RANGE_S[1]:
        return np.zeros((0, BEAT_LENGTH), np.float32), np.zeros(0, np.int64), f"median RR {median_rr:.2f} s"
    beats, kept = extract_beats(x, fs, r_peaks)
    template = np.median(beats, axis=0)
    centred = beats - beats.mean(axis=1, keepdims=True)
    t = template - template.mean()
    denom = np.linalg.norm(centred, axis=1) * np.linalg.norm(t)
    r = np.divide(centred @ t, denom, out=np.zeros(len(beats)), where=denom > 0)
    ok = r >= MIN_CORRELATION
    return beats[ok], kept[ok], "" if ok.any() else "no beat resembles the median beat"


def _cached_excerpt(path: Path, cache_dir: Path | None) -> tuple[np.ndarray, float, ptb.PtbHeader, bool]:
    """12 leads (12, n) of an xlsx excerpt, fs, header, alignment check (xlsx parsing is slow)."""
    header = ptb.read_excerpt_header(path.with_suffix(".txt"))
    cached = None
    if cache_dir is not None:
        key = hashlib.sha1(f"{_VERSION}:{path.name}:{path.stat().st_size}".encode()).hexdigest()[:10]
        cached = Path(cache_dir) / "ptb-xlsx" / f"{path.stem}-{key}.npz"
        if cached.exists():
            with np.load(cached) as z:
                return z["leads"], float(z["fs"]), header, bool(z["aligned"])
    signal, header = ptb.read_excerpt(path)
    leads = np.stack([signal.leads[n] for n in ptb.LEADS_12])
    aligned = ptb.first_samples_match(signal, header)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp.npz")
        np.savez(tmp, leads=leads, fs=signal.fs, aligned=aligned)
        tmp.replace(cached)
    return leads, signal.fs, header, aligned


def _part(beats: np.ndarray, info: MiRecord) -> MiBeats:
    n = len(beats)
    return MiBeats(
        beats.astype(np.float32),
        np.full(n, info.label, np.int64),
        np.full(n, info.record, "<U32"),
        np.full(n, info.patient_id, "<U32"),
        np.full(n, info.source, "<U32"),
        np.full(n, info.uncertain, bool),
    )


def _lead_index(lead: str) -> int:
    by_lower = {n.lower(): i for i, n in enumerate(ptb.LEADS_12)}
    if lead.lower() not in by_lower:
        raise ValueError(f"unknown lead {lead!r}; expected one of {', '.join(ptb.LEADS_12)}")
    return by_lower[lead.lower()]


def build_mi_dataset(
    mi_dir: str | Path,
    lead: str = "II",
    ptbdb_records: list[Path] | tuple[Path, ...] = (),
    cache_dir: Path | None = None,
    filtered: bool = True,
    include_misaligned: bool = False,
    excerpts: set[str] | None = None,
) -> tuple[MiBeats, list[MiRecord]]:
    """All MI / normal beats of the shared MI data (and raw PTB records given), with per-record info.

    Records: PTB excerpts labelled MI or healthy control by their header; PTB-XL by labels.csv
    (uncertain = MI only "possible"); raw PTB records contribute their first 10 s. ``excerpts``
    limits the PTB xlsx excerpts read to those record names (reading xlsx is slow).
    """
    mi_dir = Path(mi_dir)
    li = _lead_index(lead)
    parts: list[MiBeats] = []
    records: list[MiRecord] = []

    def add(x: np.ndarray, fs: float, info: MiRecord, harmonise_it: bool) -> None:
        if harmonise_it:
            x = harmonise(x, fs)
        beats, _, reason = plausible_beats(x, fs)
        records.append(replace(info, n_beats=len(beats), note=reason or info.note))
        if len(beats):
            parts.append(_part(beats, info))

    xlsx_dir = mi_dir / "ptbdb_10s_xlsx"
    for path in ptb.list_excerpts(xlsx_dir) if xlsx_dir.exists() else []:
        if excerpts is not None and path.stem not in excerpts:
            continue
        leads, fs, header, aligned = _cached_excerpt(path, cache_dir)
        if not (header.is_mi or header.is_healthy):
            continue
        info = MiRecord(header.record, header.patient_id, "ptb", int(header.is_mi))
        if header.record in MISALIGNED or not aligned:
            if not include_misaligned:
                records.append(replace(info, note="excluded: sheet does not match its header"))
                continue
        add(leads[li], fs, info, filtered)

    npy_dir = mi_dir / "ptbxl_500hz_preprocessed_npy"
    if npy_dir.exists():
        for row in ptbxl.read_labels(npy_dir).itertuples():
            signal = ptbxl.read_npy(npy_dir / row.file)
            info = MiRecord(row.record, row.patient_id, "ptbxl", int(row.label == "MI"), bool(row.uncertain_mi))
            add(signal.leads[ptb.LEADS_12[li]], signal.fs, info, False)  # already band-passed

    for path in ptbdb_records:
        signal, header = ptb.read_record(path)
        if not (header.is_mi or header.is_healthy):
            continue
        n = int(EXCERPT_SECONDS * signal.fs)
        info = MiRecord(header.record, header.patient_id, "ptbdb", int(header.is_mi), note="first 10 s")
        add(signal.leads[ptb.LEADS_12[li]][:n], signal.fs, info, filtered)

    return MiBeats.concat(parts), records


def kaggle_ptb_beats(normal_csv: Path | None = None, abnormal_csv: Path | None = None) -> MiBeats:
    """Kaggle ptbdb_normal/abnormal.csv beats. Rows carry no patient: training use only, never
    patient-wise evaluation (each file is one pseudo-patient group)."""
    parts = []
    for path, label in ((normal_csv, 0), (abnormal_csv, 1)):
        if path is None:
            continue
        beats, labels = ptb.read_kaggle_ptb_csv(path, label)
        info = MiRecord(f"kaggle-{Path(path).stem}", f"kaggle-{LABELS[label]}", "kaggle-ptb", label)
        parts.append(_part(beats, info))
    return MiBeats.concat(parts)
