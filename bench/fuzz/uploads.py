"""Coverage-guided fuzzing (atheris, libFuzzer) of the parsers that read an uploaded file or request body.

    python -m bench.fuzz.uploads TARGET [CORPUS_DIR] [libFuzzer options]

TARGET is one of ``TARGETS``. Each input goes through the upload service the page and the API call
(``ingestion.upload_parse``; the API's JSON body through its parser, serializer and ``api.uploads``), under
small limits (``LIMITS``), so that a file the limits do not hold back shows as memory or time. The project's
contract is that bad input raises ``UploadRefused`` (a 4xx naming the defect) or, for the API's body, DRF's
``ParseError`` / ``ValidationError``: any other exception is a crash, and so is a hang (``-timeout``) or memory
(``-rss_limit_mb``). The corpus directory is seeded from ``bench.fuzz.seeds`` when it is empty.
"""

import os
import struct
import sys
import tempfile
from pathlib import Path

# Small limits: an upload bounded by them costs little, one that is not shows. (Set before Django reads them.)
LIMITS = {
    "ECG_MAX_UPLOAD_BYTES": str(1 << 20),
    "ECG_FULL_CHECK_MAX_BYTES": str(64 << 10),
    "ECG_MAX_SIGNAL_SECONDS": "3600",
}
TARGETS = (
    "wfdb",  # a .hea and a .dat (the input: header length, header, data)
    "wfdb-scan",  # the same, checked in chunks as a large record is (ECG_FULL_CHECK_MAX_BYTES=0)
    "wfdb-zip",  # one .zip of a record
    "edf",
    "edf-scan",  # the chunked check of a large EDF file
    "dicom",
    "aecg",
    "csv",  # a signal CSV at 360 Hz
    "json",  # a JSON signal file
    "beats-csv",
    "beats-xlsx",
    "api-json",  # POST /api/v1/recordings/ as JSON: parser, serializer, api.uploads
    "api-fields",  # the JSON bodies of diary entries and activities, beat corrections, interpretations, reviews
    "keras-weights",  # the weights an admin's .h5 model declares (ecg.models.keras_import.weights_bytes): only a
    # crash of the process, a hang or memory count, as the import runs in its own process and reports any exception
)


def setup(target: str) -> None:
    for key, value in LIMITS.items():
        os.environ.setdefault(key, value)
    if target.endswith("-scan"):
        os.environ["ECG_FULL_CHECK_MAX_BYTES"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgsite.settings")
    os.environ.setdefault("CI", "true")
    import django

    django.setup()


def one_input(target: str):
    """The function atheris calls with each input, for ``target``."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from diagnostics import ingestion
    from ecgsite.errors import UploadRefused

    def uploaded(*named: tuple[str, bytes]) -> list:
        return [SimpleUploadedFile(name, data) for name, data in named]

    def signal(*named: tuple[str, bytes], fs: float | None = None) -> None:
        try:
            ingestion.upload_parse(kind="signal", uploads=uploaded(*named), fs=fs)
        except UploadRefused:
            pass

    def beats(name: str, data: bytes) -> None:
        try:
            ingestion.upload_parse(kind="beats", uploads=uploaded((name, data)))
        except UploadRefused:
            pass

    def wfdb_pair(data: bytes) -> None:
        if len(data) < 2:
            return
        (n,) = struct.unpack("<H", data[:2])
        signal(("rec.hea", data[2 : 2 + n]), ("rec.dat", data[2 + n :]))

    if target in ("wfdb", "wfdb-scan"):
        return wfdb_pair
    if target == "wfdb-zip":
        return lambda data: signal(("rec.zip", data))
    if target in ("edf", "edf-scan"):
        return lambda data: signal(("rec.edf", data))
    if target == "dicom":
        return lambda data: signal(("ecg.dcm", data))
    if target == "aecg":
        return lambda data: signal(("ecg.xml", data))
    if target == "csv":
        return lambda data: signal(("signal.csv", data), fs=360.0)
    if target == "json":
        return lambda data: signal(("signal.json", data))
    if target == "beats-csv":
        return lambda data: beats("beats.csv", data)
    if target == "beats-xlsx":
        return lambda data: beats("beats.xlsx", data)
    if target == "api-json":
        return _api_json()
    if target == "api-fields":
        return _api_fields()
    if target == "keras-weights":
        return _keras_weights()
    raise SystemExit(f"unknown target {target!r}; one of {', '.join(TARGETS)}")


def _api_json():
    import io

    from rest_framework.exceptions import ParseError, ValidationError

    from api import serializers, uploads
    from api.parsers import BoundedJSONParser
    from ecgsite.errors import UploadRefused

    parser = BoundedJSONParser()

    def run(data: bytes) -> None:
        try:
            body = parser.parse(io.BytesIO(data), "application/json", {})
            if isinstance(body, dict):  # the view's fields; a patient id the selector would look up
                body = {"patient": 1, "kind": "beats" if "beats" in body else "signal", **body}
            serializer = serializers.RecordingJsonSerializer(data=body)
            serializer.is_valid(raise_exception=True)
            fields = serializer.validated_data
            if fields["kind"] == "beats":
                uploads.beats_from_json(fields["beats"])
            else:
                uploads.signal_from_json(
                    fs=fields["fs"], signal=fields.get("signal"), leads=fields.get("leads"), lead=fields.get("lead")
                )
        except (ParseError, ValidationError, UploadRefused):
            pass

    return run


def _api_fields():
    import io

    from rest_framework.exceptions import ParseError, ValidationError

    from api import serializers
    from api.parsers import BoundedJSONParser

    parser = BoundedJSONParser()
    bodies = (
        serializers.DiaryEntryCreateSerializer,
        serializers.DiaryActivityCreateSerializer,
        serializers.BeatCorrectionCreateSerializer,
        serializers.InterpretationCreateSerializer,
        serializers.ReviewCreateSerializer,
    )

    def run(data: bytes) -> None:
        try:
            body = parser.parse(io.BytesIO(data), "application/json", {})
        except ParseError:
            return
        for serializer_class in bodies:
            try:
                serializer_class(data=body).is_valid(raise_exception=True)
            except ValidationError:
                pass

    return run


def _keras_weights():
    from ecg.models.keras_import import weights_bytes

    folder = Path(tempfile.mkdtemp(prefix="fuzz-keras-"))

    def run(data: bytes) -> None:
        path = folder / "model.h5"
        path.write_bytes(data)
        try:
            weights_bytes(path)
        except Exception:  # noqa: BLE001 - the import's process reports any exception to the admin as a message;
            pass  # what it cannot report is a crash of the process, a hang or memory

    return run


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        raise SystemExit(
            f"usage: python -m bench.fuzz.uploads TARGET [CORPUS] [libFuzzer options]; TARGET in {TARGETS}"
        )
    target = argv[1]
    import atheris

    with atheris.instrument_imports(include=["ecg", "diagnostics", "api", "ecgsite", "wfdb", "pydicom", "openpyxl"]):
        setup(target)
        import api.parsers  # noqa: F401
        import api.serializers  # noqa: F401
        import api.uploads  # noqa: F401
        import diagnostics.ingestion  # noqa: F401
        import diagnostics.signal_uploads  # noqa: F401
        import ecg.io.aecg  # noqa: F401
        import ecg.io.dicom  # noqa: F401
        import ecg.io.readers  # noqa: F401
        import ecg.models.keras_import  # noqa: F401
    run = one_input(target)
    args = [argv[0], *argv[2:]]
    corpus = next((a for a in argv[2:] if not a.startswith("-")), None)
    if corpus is not None and not any(Path(corpus).iterdir() if Path(corpus).exists() else []):
        from bench.fuzz import seeds

        seeds.write(target, Path(corpus))
    atheris.Setup(args, run)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
