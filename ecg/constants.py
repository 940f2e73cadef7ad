"""The beat format and class labels every model, reader and page of the project agrees on."""

from __future__ import annotations

# A Kaggle/Kachuee-format beat: 187 values at 120 Hz, starting at the R-peak.
BEAT_LENGTH = 187
BEAT_FS = 120.0

AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")
AAMI_NAMES: dict[str, str] = {
    "N": "Normal / bundle branch block",
    "S": "Supraventricular ectopic",
    "V": "Ventricular ectopic",
    "F": "Fusion",
    "Q": "Paced / unclassifiable",
}
MI_LABELS: tuple[str, ...] = ("normal", "mi")

# WFDB beat annotation symbols by AAMI EC57 class; other symbols are not beats.
SYMBOL_TO_AAMI: dict[str, str] = {
    **dict.fromkeys(("N", "L", "R", "e", "j"), "N"),
    **dict.fromkeys(("A", "a", "J", "S"), "S"),
    **dict.fromkeys(("V", "E"), "V"),
    "F": "F",
    **dict.fromkeys(("/", "f", "Q"), "Q"),
}

# The rhythm analysis's version (ecg.rhythm): raise it with every change of what analyse_rhythm finds from the same
# beats, classes and inputs (an event's bounds or type, a figure of the summary), so `manage.py recompute_rhythm`
# brings the recordings analysed before to it. Each diagnosis keeps the version its rhythm was last computed by
# (Diagnosis.rhythm_version).
RHYTHM_VERSION = 1
