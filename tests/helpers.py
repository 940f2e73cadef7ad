import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

from ecg.datasets.hostile import csv_wide, xlsx_far_cells, xlsx_wide_row  # noqa: F401 - the upload-limit tests' bombs
from ecg.datasets.synthetic import beat_csv, beat_rows  # noqa: F401 - the tests' upload material


def upload(name: str, data: bytes) -> io.BytesIO:
    fh = io.BytesIO(data)
    fh.name = name
    return fh


def beat_recording(user, patient, *, beats: int = 3, classify: bool = True):
    """A beat-file recording of ``beats`` rows, submitted through the service and classified unless told not."""
    from diagnostics import ingestion, services

    data = beat_csv(beats)
    parsed = ingestion.parse_beats(filename="b.csv", data=data)
    recording = services.recording_submit(user=user, patient=patient, parsed=parsed, data=data, filename="b.csv")
    if classify:
        services.recording_classify(recording_id=recording.pk, claim_token=f"t{recording.pk}")
        recording.refresh_from_db()
    return recording


@contextmanager
def http_receiver(answer: Callable[[dict[str, str], bytes], int]) -> Iterator[str]:
    """A local HTTP server for webhook tests: each POST's headers (lower-case) and body go to
    ``answer``, whose return value is the status sent back. Yields the URL to post to."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(answer({k.lower(): v for k, v in self.headers.items()}, body))
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()


@contextmanager
def damaged_library(module, directory, monkeypatch) -> Iterator[None]:
    """``module`` (``ecg.models.tree_walk`` or ``net_forward``) pointed at a file that is not a loadable
    library, its cached load cleared before and after."""
    damaged = directory / module.LIBRARY.name
    damaged.write_bytes(b"\x7fELF not really")
    monkeypatch.setattr(module, "LIBRARY", damaged)
    module.library.cache_clear()
    try:
        yield
    finally:
        module.library.cache_clear()
