"""ECG signal processing and models: arrays in, arrays out; no Django."""
