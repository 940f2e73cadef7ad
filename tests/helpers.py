import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np

from ecg.datasets.hostile import csv_wide, xlsx_far_cells, xlsx_wide_row  # noqa: F401 - the upload-limit tests' bombs
from ecg.datasets.synthetic import beat_csv, beat_rows  # noqa: F401 - the tests' upload material


def upload(name: str, data: bytes) -> io.BytesIO:
    fh = io.BytesIO(data)
    fh.name = name
    return fh


def edf_bytes(values: np.ndarray | dict[str, np.ndarray], fs: float = 250) -> bytes:
    """An EDF+ file of one lead ("ECG II") or of several (name → values), in mV within ±5 mV."""
    import tempfile

    import pyedflib

    leads = values if isinstance(values, dict) else {"ECG II": values}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.edf"
        writer = pyedflib.EdfWriter(str(path), len(leads), file_type=pyedflib.FILETYPE_EDFPLUS)
        writer.setSignalHeaders(
            [
                {
                    "label": label,
                    "dimension": "mV",
                    "sample_frequency": fs,
                    "physical_max": 5.0,
                    "physical_min": -5.0,
                    "digital_max": 32767,
                    "digital_min": -32768,
                }
                for label in leads
            ]
        )
        writer.writeSamples(list(leads.values()))
        writer.close()
        return path.read_bytes()


def wfdb_files(
    directory: Path, values: np.ndarray | dict[str, np.ndarray], fs: float = 360, name: str = "rec"
) -> list[io.BytesIO]:
    """A WFDB record (format 16, mV) of one lead ("MLII") or of several (name → values), written to
    ``directory`` and returned as its .hea and .dat uploads."""
    import wfdb

    leads = values if isinstance(values, dict) else {"MLII": values}
    wfdb.wrsamp(
        name,
        fs=fs,
        units=["mV"] * len(leads),
        sig_name=list(leads),
        p_signal=np.column_stack(list(leads.values())),
        fmt=["16"] * len(leads),
        write_dir=str(directory),
    )
    return [upload(f"{name}.{ext}", (directory / f"{name}.{ext}").read_bytes()) for ext in ("hea", "dat")]


def dicom_stating(leads: dict[str, np.ndarray], fs: float, **attributes: str) -> bytes:
    """A DICOM 12-lead ECG of ``leads`` whose dataset holds ``attributes`` (keyword → text), written as given
    even where the text is not a valid value of its VR."""
    import pydicom
    from pydicom import config

    from ecg.datasets.carts import dicom_twelve_lead

    ds = pydicom.dcmread(io.BytesIO(dicom_twelve_lead(leads, fs)))
    out = io.BytesIO()
    with config.disable_value_validation():
        for keyword, value in attributes.items():
            setattr(ds, keyword, value)
        ds.save_as(out)
    return out.getvalue()


AECG_EFFECTIVE = b'<effectiveTime><low value="20260101120000"/><high value="20260101120010"/></effectiveTime>'


def aecg_stating(leads: dict[str, np.ndarray], fs: float, series: str | None, document: str | None) -> bytes:
    """An HL7 aECG document of ``leads`` whose series' and AnnotatedECG's ``effectiveTime/low/@value`` are
    ``series`` and ``document`` (None: no effectiveTime there)."""
    from xml.sax.saxutils import quoteattr

    from ecg.datasets.carts import aecg_twelve_lead

    before, in_document, in_series = aecg_twelve_lead(leads, fs).split(AECG_EFFECTIVE)

    def effective(low: str | None) -> bytes:
        return b"" if low is None else f"<effectiveTime><low value={quoteattr(low)}/></effectiveTime>".encode()

    return before + effective(document) + in_document + effective(series) + in_series


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


def zipped(members: dict[str, bytes]) -> bytes:
    """A deflated zip of ``members`` (name: bytes), as a client would send a WFDB record."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


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


def _closed(node):
    """A schema with every object closed to keys it does not name (a map, such as event_counts, stays open), its
    references into components/schemas made references into $defs."""
    if isinstance(node, dict):
        node = {key: _closed(value) for key, value in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        if isinstance(node.get("$ref"), str):
            node["$ref"] = node["$ref"].replace("#/components/schemas/", "#/$defs/")
        return node
    return [_closed(item) for item in node] if isinstance(node, list) else node


def strict_validator(openapi: dict, component: str):
    """A JSON Schema validator of the OpenAPI document's ``component`` that refuses a key the schema does not
    name: what the API sends must be what it documents, no key more or fewer."""
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/$defs/{component}", "$defs": _closed(openapi["components"]["schemas"])}
    )


@contextmanager
def reviews_rewritable() -> Iterator[None]:
    """MI reviews are append-only (a trigger refuses UPDATE and DELETE): a test that stages a state no service makes
    (two reviews of one instant, a flag whose review is gone) rewrites them inside this, the trigger off meanwhile."""
    from django.db import connection

    def trigger(state: str) -> None:
        with connection.cursor() as cursor:
            # the foreign keys' deferred checks of rows just written first: a table is not altered with them pending
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE diagnostics_review {state} TRIGGER diagnostics_review_no_update_delete")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    trigger("DISABLE")
    try:
        yield
    finally:
        trigger("ENABLE")


def mi_screened(recording, scored: list[int], score: float, *, flag: bool, reason: str, threshold: float = 0.5) -> None:
    """Stage ``recording``'s diagnosis as the MI screen in lead II over the beats ``scored`` with ``score`` (the beats'
    own MI probabilities are the caller's to set)."""
    from diagnostics.models import Diagnosis

    Diagnosis.objects.filter(recording=recording).update(
        mi_status="screened",
        mi_lead="II",
        mi_reason=reason,
        mi_scored_beats=scored,
        mi_beats_used=len(scored),
        mi_score=score,
        mi_threshold=threshold,
        mi_flag=flag,
    )
