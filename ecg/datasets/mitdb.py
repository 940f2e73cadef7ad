"""MIT-BIH Arrhythmia Database: beats at the reference annotations, record lists, protocols.

Lead: MLII where the record has it (45 records have it first; 114 has it second and we take it
from there); 102 and 104 have no MLII and we take their first lead (V5). Kaggle rows match the
first channel of the records we could check; whether Kaggle took V5 or MLII for 114 cannot be told
from its counts (they do not depend on the lead). MLII for 114 keeps the training lead consistent.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import wfdb

from ecg.constants import BEAT_FS, BEAT_LENGTH, SYMBOL_TO_AAMI
from ecg.datasets import BeatSet
from ecg.processing import beats as beat_format
from ecg.processing.beats import aami_index, extract_beats

# de Chazal et al. 2004 inter-patient split; the four paced records are left out of both.
DS1: tuple[str, ...] = (
    "101",
    "106",
    "108",
    "109",
    "112",
    "114",
    "115",
    "116",
    "118",
    "119",
    "122",
    "124",
    "201",
    "203",
    "205",
    "207",
    "208",
    "209",
    "215",
    "220",
    "223",
    "230",
)
DS2: tuple[str, ...] = (
    "100",
    "103",
    "105",
    "111",
    "113",
    "117",
    "121",
    "123",
    "200",
    "202",
    "210",
    "212",
    "213",
    "214",
    "219",
    "221",
    "222",
    "228",
    "231",
    "232",
    "233",
    "234",
)
PACED: tuple[str, ...] = ("102", "104", "107", "217")
ALL_RECORDS: tuple[str, ...] = tuple(sorted(DS1 + DS2 + PACED))

PREFERRED_LEAD = "MLII"

# Bump when extraction changes so stale caches are not reused.
_EXTRACTION_VERSION = "1"


def _cache_key() -> str:
    spec = f"{_EXTRACTION_VERSION}:{BEAT_LENGTH}:{BEAT_FS}:{beat_format.RR_FACTOR}"
    return hashlib.sha1(spec.encode()).hexdigest()[:10]


def read_record(mitdb_dir: Path, record: str) -> tuple[np.ndarray, float, str, np.ndarray, np.ndarray]:
    """(signal of the chosen lead in mV, fs, lead name, annotation samples, annotation symbols)."""
    path = str(Path(mitdb_dir) / record)
    header = wfdb.rdheader(path)
    channel = header.sig_name.index(PREFERRED_LEAD) if PREFERRED_LEAD in header.sig_name else 0
    rec = wfdb.rdrecord(path, channels=[channel])
    ann = wfdb.rdann(path, "atr")
    return rec.p_signal[:, 0], float(rec.fs), rec.sig_name[0], np.asarray(ann.sample), np.asarray(ann.symbol)


def record_beats(mitdb_dir: Path, record: str) -> BeatSet:
    """Beats at the record's reference beat annotations (non-beat annotations dropped)."""
    signal, fs, _lead, samples, symbols = read_record(mitdb_dir, record)
    labels = aami_index(symbols)
    is_beat = labels >= 0
    r_peaks, labels = samples[is_beat], labels[is_beat]
    beats, kept = extract_beats(signal, fs, r_peaks)
    keep = np.isin(r_peaks, kept)
    return BeatSet(beats, labels[keep], np.full(len(kept), record), kept)


def load_mitdb(
    mitdb_dir: Path, records: tuple[str, ...] | list[str] = ALL_RECORDS, cache_dir: Path | None = None
) -> BeatSet:
    """Beats of ``records``, concatenated in the given order; cached per record as .npz if asked."""
    parts = []
    for record in records:
        cached = Path(cache_dir) / f"mitdb-{_cache_key()}" / f"{record}.npz" if cache_dir else None
        if cached is not None and cached.exists():
            with np.load(cached) as z:
                parts.append(BeatSet(z["beats"], z["labels"], z["records"], z["r_peaks"]))
            continue
        part = record_beats(mitdb_dir, record)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp.npz")
            np.savez(tmp, beats=part.beats, labels=part.labels, records=part.records, r_peaks=part.r_peaks)
            tmp.replace(cached)
        parts.append(part)
    return BeatSet.concat(parts)


def read_detection_reference(mitdb_dir: Path, record: str) -> tuple[np.ndarray, float, np.ndarray]:
    """First channel (physical units), fs and the reference beat samples, for scoring an R-peak detector.

    Every AAMI beat symbol counts; '!' (ventricular flutter wave) and non-beat annotations do not.
    """
    path = str(Path(mitdb_dir) / record)
    rec = wfdb.rdrecord(path, channels=[0])
    return rec.p_signal[:, 0], float(rec.fs), _reference_beats(path)


def read_detection_leads(directory: Path, record: str) -> tuple[np.ndarray, float, np.ndarray]:
    """Every lead (n_leads, n_samples, physical units), fs and the reference beat samples.

    For scoring a detector on several leads; serves the MIT-BIH databases that share these beat
    annotations (mitdb, svdb, nstdb), the same beats as ``read_detection_reference``.
    """
    path = str(Path(directory) / record)
    rec = wfdb.rdrecord(path)
    return rec.p_signal.T.copy(), float(rec.fs), _reference_beats(path)


def _reference_beats(path: str) -> np.ndarray:
    ann = wfdb.rdann(path, "atr")
    return np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym in SYMBOL_TO_AAMI], dtype=np.int64)
