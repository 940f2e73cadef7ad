class SignalError(ValueError):
    """An ECG input that cannot be analysed; the message is shown to the user."""
