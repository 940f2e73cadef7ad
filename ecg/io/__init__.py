"""Reading ECG files: WFDB, EDF, CSV, JSON and the Kaggle beat format, into arrays."""
