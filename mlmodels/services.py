import hashlib
import json
import math
import re
import signal
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.utils import timezone

from ecg.constants import AAMI_CLASSES, BEAT_FS, BEAT_LENGTH, MI_LABELS
from ecg.io.readers import without_paths
from ecg.processing import context
from ecgsite.errors import ArtifactRegistered, ModelRejected, UnsupportedUpload, UploadTooLarge

from .models import ModelActivation, ModelVersion
from .signals import model_version_activated

DEFAULT_LABELS: dict[str, list[str]] = {
    ModelVersion.Task.HEARTBEAT: list(AAMI_CLASSES),
    ModelVersion.Task.HEARTBEAT_RECORD: list(AAMI_CLASSES),
    ModelVersion.Task.MI: list(MI_LABELS),
}
IMPORT_TIMEOUT_SECONDS = 180
VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ARTIFACT_SUFFIXES = {".keras", ".h5", ".hdf5"}
MAX_ARCHIVE_MEMBERS = 1000  # Keras writes three (config, metadata, weights) and the model's assets


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return sha256_of_file(fh)


def sha256_of_file(fh) -> str:
    """The sha256 of what is left to read of a binary file (a local one, or a storage's), read a MiB at a time."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def artifact_convert(*, src: Path, dst: Path) -> dict:
    """Load ``src`` (.keras or Keras 2 .h5) in a subprocess and write ``dst`` (.keras).

    Raises ModelRejected with the loader's message when the file is not a usable model.
    """
    if src.suffix.lower() not in ARTIFACT_SUFFIXES:
        raise UnsupportedUpload(f"{src.name}: expected a .keras file or a Keras 2 .h5 file", field="artifact")
    if src.suffix.lower() == ".keras" and not zipfile.is_zipfile(src):
        # Keras itself says "File not found" of a file that is there
        raise ModelRejected(
            "the file is not a usable model: a .keras model is a zip archive, and this file is none",
            field="artifact",
        )
    if src.suffix.lower() == ".keras":
        _check_archive(src)
    try:
        proc = subprocess.run(
            [
                sys.executable,
                *("-m", "ecg.models.keras_import", str(src), str(dst)),
                *(str(settings.API_MAX_MODEL_BYTES), str(settings.ECG_MODEL_IMPORT_MEMORY_BYTES)),
            ],
            capture_output=True,
            text=True,
            timeout=IMPORT_TIMEOUT_SECONDS,
            cwd=settings.BASE_DIR,
        )
    except subprocess.TimeoutExpired:
        raise ModelRejected(
            f"{src.name}: loading the model took longer than {IMPORT_TIMEOUT_SECONDS} s", field="artifact"
        ) from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    info = json.loads(lines[-1]) if lines else {"error": proc.stderr.strip()[-500:] or "no output"}
    if proc.returncode < 0 and not lines:  # killed: past its memory limit, or from outside
        stopped = _stopped_by(-proc.returncode)
        if -proc.returncode not in OUT_OF_MEMORY_SIGNALS:  # nothing is known of the file then
            raise ModelRejected(f"{src.name}: {stopped}", field="artifact")
        info = {"error": stopped}
    if proc.returncode != 0 or "error" in info:
        # the loader's words without the server's temporary paths
        raise ModelRejected(
            f"{src.name} is not a usable model: {without_paths(str(info.get('error')))}", field="artifact"
        )
    return info


# How an import whose memory is limited (ECG_MODEL_IMPORT_MEMORY_BYTES) ends when an allocation fails past it inside
# TensorFlow: it aborts (std::bad_alloc), or reads memory it never got. Any other signal was sent from outside.
OUT_OF_MEMORY_SIGNALS = {signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS}


def _stopped_by(number: int) -> str:
    """What an import ended by signal ``number`` is told: past its memory limit, or stopped from outside (an
    operator's SIGTERM or SIGKILL, the service manager stopping the web process, the system short of memory), which
    had been told it needed more memory too."""
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number in OUT_OF_MEMORY_SIGNALS:
        limit = settings.ECG_MODEL_IMPORT_MEMORY_BYTES
        return f"loading it stopped ({name}); it needs more than {limit} bytes of memory"
    return (
        f"loading it was stopped by {name}, sent from outside the import (an operator, the service manager or the "
        "system), not by anything in the file; nothing was registered: send it again"
    )


def _check_archive(src: Path) -> None:
    """Refuse a .keras archive that unpacks to more than a model may be sent as, or holds more files than a model
    has, before Keras reads it: Keras writes an archive's assets to a temporary directory and reads its weights
    into memory, refusing only members of over 256 MiB (4 GiB in memory) that are packed 100 to 1 (a 200 MiB
    upload of 255 MiB members of zeros had filled 200 GB of disk). Keras stores a model unpacked, so a real one
    unpacks to about its own size; Python's zipfile never reads a member past the size its entry declares."""
    limit = settings.API_MAX_MODEL_BYTES
    try:
        with zipfile.ZipFile(src) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelRejected(f"{src.name} is not a usable model: {exc}", field="artifact") from None
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise ModelRejected(
            f"{src.name} holds {len(members)} files; a .keras model holds a few (at most {MAX_ARCHIVE_MEMBERS})",
            field="artifact",
        )
    unpacked = sum(member.file_size for member in members)
    if unpacked > limit:
        raise ModelRejected(
            f"{src.name} unpacks to {unpacked} bytes; a model may be at most {limit} bytes, unpacked as sent",
            field="artifact",
        )


def _check_labels(task: str, labels: list[str]) -> None:
    """Labels the product reads its outputs by: a heartbeat model's are the five AAMI classes in some order
    (every beat of an upload failed with 'SVEB' among them); an MI model's score is its last output, so its
    last label is "mi" (a model labelled the other way round would have had its scores read inverted)."""
    if task == ModelVersion.Task.MI:
        if labels[-1].lower() != "mi":
            raise ModelRejected(
                f"an MI model's last output is its MI score: its labels end with 'mi', not {labels[-1]!r}",
                field="class_labels",
            )
        return
    wanted = list(DEFAULT_LABELS[task])
    if sorted(labels) != sorted(wanted):
        raise ModelRejected(
            f"class labels {', '.join(labels)} are not the classes {', '.join(wanted)} (in the model's output order)",
            field="class_labels",
        )


def _check_threshold(threshold: float | None) -> None:
    if threshold is not None and not (math.isfinite(float(threshold)) and 0.0 <= float(threshold) <= 1.0):
        raise ModelRejected(f"the threshold must be a score from 0 to 1; {threshold!r} is not", field="threshold")


def _check_input(task: str, input_kind: str) -> None:
    """A record-level model needs its recording's context; the other tasks take single beats."""
    wanted = "record" if task == ModelVersion.Task.HEARTBEAT_RECORD else "beat"
    if input_kind != wanted:
        raise ModelRejected(
            f"this is a {input_kind}-level model; task {task!r} needs a "
            + (
                "record-level model (inputs morphology and features)"
                if wanted == "record"
                else "model of 187-value beats"
            ),
            field="task",
        )


def _check_outputs(task: str, outputs: int, labels: list[str]) -> list[str]:
    labels = labels or list(DEFAULT_LABELS[task])
    _check_labels(task, labels)
    if task == ModelVersion.Task.MI and outputs == 1:
        return labels
    if outputs != len(labels):
        raise ModelRejected(
            f"the model has {outputs} outputs but {len(labels)} class labels ({', '.join(labels)})",
            field="class_labels",
        )
    return labels


def model_version_register(
    *,
    task: str,
    version: str,
    source: Path | None = None,
    upload: UploadedFile | None = None,
    created_by=None,
    class_labels: list[str] | None = None,
    threshold: float | None = None,
    metrics: dict | None = None,
    report: str = "",
    provenance: str = "",
    activate: bool = False,
    refuse_changes: bool = False,
) -> ModelVersion:
    """Convert and store an artifact (a ``source`` file or an ``upload``) as a new version.

    The same artifact twice returns the first version. Used by the admin, the API and the commands.
    With ``refuse_changes`` (the admin's and the API's registrations) an artifact already registered,
    sent under another version name or threshold, is refused (ArtifactRegistered) rather than returned
    with the new name and threshold dropped; the commands (start-up's registration of the bundled models
    among them) take the existing version whatever an administrator has changed since.
    """
    _check_threshold(threshold)
    if threshold is not None and task != ModelVersion.Task.MI:
        # a heartbeat model's class is its most probable one (with the record-level rules): a threshold given
        # with it was stored and shown, and changed nothing
        raise ModelRejected(
            f"a {task} model decides by its most probable class, without a threshold: only an MI model takes one "
            "(leave the threshold out)",
            field="threshold",
        )
    if not VERSION_NAME.fullmatch(version or ""):
        raise ModelRejected(
            f"version {version[:40]!r}: use 1-64 letters, digits, dots, dashes or underscores, starting with a "
            "letter or digit (e.g. 2026.12-mi3)",
            field="version",
        )
    if upload is not None:
        suffix = Path(upload.name or "").suffix.lower()
        if suffix not in ARTIFACT_SUFFIXES:
            raise UnsupportedUpload("The artifact must be a .keras file or a Keras 2 .h5 file.", field="artifact")
        assert upload.size is not None  # Django sets it on every uploaded file
        if upload.size > settings.API_MAX_MODEL_BYTES:
            raise UploadTooLarge(f"The artifact is larger than {settings.API_MAX_MODEL_BYTES} bytes.", field="artifact")
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / f"upload{suffix}"
            with open(source, "wb") as fh:
                for chunk in upload.chunks():
                    fh.write(chunk)
            return model_version_register(
                task=task,
                version=version,
                source=source,
                created_by=created_by,
                class_labels=class_labels,
                threshold=threshold,
                metrics=metrics,
                report=report,
                provenance=provenance,
                activate=activate,
                refuse_changes=refuse_changes,
            )
    if source is None:
        raise TypeError("model_version_register needs a source file or an upload")
    with transaction.atomic():
        return _register(
            task=task,
            version=version,
            source=source,
            created_by=created_by,
            class_labels=class_labels,
            threshold=threshold,
            metrics=metrics,
            report=report,
            provenance=provenance,
            activate=activate,
            refuse_changes=refuse_changes,
        )


def _registered_again(
    existing: ModelVersion, *, version: str, threshold: float | None, activate: bool, refuse_changes: bool
) -> ModelVersion:
    """The version an artifact was registered as, asked for again: the same request repeated returns it
    (activated if asked). Under another version name or with another threshold it is refused: a version's
    artifact and threshold do not change, and the existing version was silently returned before."""
    same_threshold = threshold is None or (
        existing.threshold is not None and abs(float(existing.threshold) - float(threshold)) < 1e-9
    )
    if refuse_changes and (existing.version != version or not same_threshold):
        kept = "no threshold" if existing.threshold is None else f"threshold {existing.threshold:g}"
        raise ArtifactRegistered(
            f"This artifact is already registered as {existing.task} version {existing.version!r} ({kept}); "
            "a version's artifact and threshold do not change: register another artifact, or activate that version.",
            field="artifact",
        )
    return model_version_activate(model_version=existing) if activate else existing


def _register(
    *,
    task,
    version,
    source: Path,
    created_by,
    class_labels,
    threshold,
    metrics,
    report,
    provenance,
    activate,
    refuse_changes: bool = False,
) -> ModelVersion:
    if task not in ModelVersion.Task.values:
        raise ModelRejected(
            f"unknown task {task!r}; expected one of {', '.join(ModelVersion.Task.values)}", field="task"
        )
    with tempfile.TemporaryDirectory() as tmp:
        converted = Path(tmp) / f"{task}-{version}.keras"
        # the file as uploaded: a Keras 2 .h5 converts to different bytes each time, so the same .h5 sent again
        # is known by its own digest, not the converted file's
        source_sha = sha256_of(source)
        existing = (
            ModelVersion.objects.filter(task=task)
            .filter(models.Q(sha256=source_sha) | models.Q(source_sha256=source_sha))
            .first()
        )
        if existing:
            return _registered_again(
                existing, version=version, threshold=threshold, activate=activate, refuse_changes=refuse_changes
            )
        info = artifact_convert(src=source, dst=converted)
        stored_from = source if source.suffix.lower() == ".keras" else converted
        sha = sha256_of(stored_from)
        existing = ModelVersion.objects.filter(task=task, sha256=sha).first()
        if existing:
            return _registered_again(
                existing, version=version, threshold=threshold, activate=activate, refuse_changes=refuse_changes
            )
        if ModelVersion.objects.filter(task=task, version=version).exists():
            raise ModelRejected(f"{task} version {version!r} already exists with a different artifact", field="version")
        _check_input(task, info.get("input_kind", "beat"))
        labels = _check_outputs(task, info["outputs"], class_labels or [])
        record_level = info.get("input_kind") == "record"
        mv = ModelVersion(
            input_length=context.WINDOW if record_level else BEAT_LENGTH,
            input_fs=context.CONTEXT_FS if record_level else BEAT_FS,
            task=task,
            version=version,
            sha256=sha,
            source_sha256=source_sha,
            class_labels=labels,
            threshold=threshold,
            metrics=metrics or {},
            report=report,
            provenance=provenance,
            created_by=created_by,
        )
        with open(stored_from, "rb") as fh:
            mv.artifact.save(f"{task}-{version}.keras", File(fh), save=False)
        mv.full_clean()
        mv.save()
    if activate:
        model_version_activate(model_version=mv)
    return mv


def model_version_activate(
    *, model_version: ModelVersion, by=None, via: str = ModelActivation.Via.COMMAND
) -> ModelVersion:
    """Make this the task's active version (model_version_activation), and return it as it now is."""
    model_version_activation(model_version=model_version, by=by, via=via)
    return model_version


@transaction.atomic
def model_version_activation(
    *, model_version: ModelVersion, by=None, via: str = ModelActivation.Via.COMMAND
) -> ModelActivation | None:
    """Make this the task's active version; ``model_version_activated`` is sent once it commits. The activation
    kept, or None when the version was already the active one: nothing changes then, and the admin and the API
    record no activation (they had audited one, and the admin had said "Activated").

    Every version of the task is locked first: locking only the active one let two activations at once each
    deactivate it and each activate their own, the second refused by the one-active index (a 500).

    A version whose stored artifact is gone or is no longer the file it was registered with is refused
    (ModelRejected): activating it had every recording analysed from then on fail in the worker.

    Each activation is kept (ModelActivation) with the version it replaced, who (``by``) and through what
    (``via``): the admin's and the API's audit rows named only the version activated, and the commands' (the
    start-up's bundled models among them) none. The version already active is left as it is (its activation
    time had been moved to now, as though it had just been chosen)."""
    _check_stored_artifact(model_version)
    versions = list(ModelVersion.objects.select_for_update().filter(task=model_version.task))
    previous = next((mv for mv in versions if mv.is_active), None)
    if previous is not None and previous.pk == model_version.pk:
        model_version.refresh_from_db()
        return None
    now = timezone.now()
    if previous is not None:
        ModelVersion.objects.filter(pk=previous.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=model_version.pk).update(is_active=True, activated_at=now)
    activation = ModelActivation.objects.create(
        task=model_version.task,
        model_version=model_version,
        previous=previous,
        activated_at=now,
        activated_by=by if by is not None and by.is_authenticated else None,
        via=via,
    )
    model_version.refresh_from_db()
    transaction.on_commit(lambda: model_version_activated.send(sender=ModelVersion, model_version=model_version))
    return activation


def _check_stored_artifact(mv: ModelVersion) -> None:
    """Refuse ``mv`` when its stored artifact cannot be read or is not the file it was registered with (its sha256
    differs), as the workers would: registration proved those bytes load and fit the task."""
    name = mv.artifact.name or ""
    try:
        with default_storage.open(name, "rb") as fh:
            stored = sha256_of_file(fh)
    except (FileNotFoundError, OSError, ValueError):
        raise ModelRejected(
            f"{mv} cannot be activated: its stored artifact {name or '(none)'} cannot be read; register the "
            "artifact again as a new version",
            field="artifact",
        ) from None
    if stored != mv.sha256:
        raise ModelRejected(
            f"{mv} cannot be activated: its stored artifact {name} is not the file it was registered with "
            f"(sha256 {stored}, not {mv.sha256}); restore that file or register a new version",
            field="artifact",
        )


def card_read(artifact: Path) -> dict:
    """The model card (JSON) stored beside a bundled artifact, if any."""
    card = artifact.with_suffix(".json")
    return json.loads(card.read_text()) if card.exists() else {}
