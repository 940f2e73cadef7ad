class SignalError(ValueError):
    """An ECG input that cannot be analysed; the message is shown to the user.

    ``limit_exceeded`` marks an input refused for its size rather than its content; ``limit`` says
    which: "columns" (columns, leads, signals, channels), "seconds" (samples for the duration), "bytes"
    (what a container expands to: a zip's members, a DICOM file's deflated dataset) or "samples" (the
    samples of all signals together a reader is given to decode).
    ``about`` names what the user gave that the file cannot go with ("lead": a lead it does not hold;
    "fs": a sampling rate it contradicts), where that, not the file, may be what to correct; None
    otherwise.
    """

    def __init__(
        self, message: str = "", *, limit_exceeded: bool = False, limit: str = "columns", about: str | None = None
    ):
        super().__init__(message)
        self.limit_exceeded = limit_exceeded
        self.limit = limit
        self.about = about
