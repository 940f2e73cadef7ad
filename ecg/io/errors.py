class SignalError(ValueError):
    """An ECG input that cannot be analysed; the message is shown to the user.

    ``limit_exceeded`` marks an input refused for its size (columns, leads, signals) rather than its content.
    """

    def __init__(self, message: str = "", *, limit_exceeded: bool = False):
        super().__init__(message)
        self.limit_exceeded = limit_exceeded
