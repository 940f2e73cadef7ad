"""PTB-XL records as preprocessed .npy (10 s, 500 Hz, 12 leads, 0.5-40 Hz band-passed, z-scored per
lead) with ``labels.csv`` (ecg_id, patient_id, scp_codes with likelihoods, strat_fold)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd

from ecg.datasets.ptb import LEADS_12
from ecg.io.readers import Signal

FS = 500.0
MI_STATEMENTS: frozenset[str] = frozenset(
    {
        "IMI",
        "ASMI",
        "ILMI",
        "AMI",
        "ALMI",
        "LMI",
        "IPLMI",
        "IPMI",
        "PMI",
        "INJAS",
        "INJAL",
        "INJIN",
        "INJLA",
        "INJIL",
    }
)
# PTB-XL's likelihood 15 means the cardiologist wrote "possible" MI.
POSSIBLE_LIKELIHOOD = 15.0


def read_labels(directory: str | Path) -> pd.DataFrame:
    """labels.csv with ``scp`` (dict), ``mi_likelihood`` (strongest MI statement, 0 if none),
    ``uncertain_mi`` (every MI statement only "possible") and patient ids as strings."""
    frame = pd.read_csv(Path(directory) / "labels.csv")
    frame["scp"] = frame["scp_codes"].map(ast.literal_eval)
    frame["mi_likelihood"] = frame["scp"].map(
        lambda codes: max([float(v) for k, v in codes.items() if k in MI_STATEMENTS], default=0.0)
    )
    frame["uncertain_mi"] = (frame["label"] == "MI") & (frame["mi_likelihood"] <= POSSIBLE_LIKELIHOOD)
    frame["patient_id"] = frame["patient_id"].map(lambda p: f"ptbxl{int(p)}")
    frame["record"] = frame["ecg_id"].map(lambda e: f"ptbxl_{int(e)}")
    return frame


def read_npy(path: str | Path) -> Signal:
    """One preprocessed record: (5000, 12) float32 in PTB-XL lead order; units are z-scores."""
    values = np.load(path)
    if values.ndim != 2 or values.shape[1] != len(LEADS_12):
        raise ValueError(f"{Path(path).name}: expected (samples, 12), got {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"{Path(path).name}: non-finite values")
    return Signal(fs=FS, leads={name: values[:, i] for i, name in enumerate(LEADS_12)}, source_format="ptbxl-npy")
