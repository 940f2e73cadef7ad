"""Every stored file (uploads, model inputs, model artifacts) to or from one .tar.gz, through the storage.

The backup and restore scripts call it, so they work the same whether the files are on the local
disk or in an object store.
"""

import tarfile
from pathlib import PurePosixPath

from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError


def stored_names(directory: str = ""):
    """Every file name in the default storage, walked folder by folder."""
    try:
        folders, files = default_storage.listdir(directory)
    except FileNotFoundError:  # a local MEDIA_ROOT not made yet holds nothing
        return
    for name in sorted(files):
        yield f"{directory}/{name}" if directory else name
    for folder in sorted(folders):
        yield from stored_names(f"{directory}/{folder}" if directory else folder)


def _safe(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name


class Command(BaseCommand):
    help = "export FILE: write every stored file into FILE (.tar.gz); import FILE: restore them into an empty storage."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["export", "import"])
        parser.add_argument("archive")

    def handle(self, *args, action: str, archive: str, **options):
        try:
            self._run(action, archive)
        except (OSError, tarfile.TarError) as exc:  # a folder, a missing directory, not a gzipped tar...
            raise CommandError(
                f"{archive}: {exc.strerror or exc}" if isinstance(exc, OSError) else f"{archive}: {exc}"
            ) from None

    def _run(self, action: str, archive: str) -> None:
        if action == "export":
            count = 0
            with tarfile.open(archive, "w:gz") as tar:
                for name in stored_names():
                    info = tarfile.TarInfo(name)
                    info.size = default_storage.size(name)
                    with default_storage.open(name, "rb") as fh:
                        tar.addfile(info, fh)
                    count += 1
            self.stdout.write(f"Exported {count} stored file(s) to {archive}")
            return
        if next(stored_names(), None) is not None:
            raise CommandError("the storage is not empty; restore into an empty one")
        count = 0
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if member.isdir() or name in ("", "."):
                    continue
                if not member.isfile() or not _safe(name):
                    raise CommandError(f"the archive holds {member.name!r}, which is not a plain stored file")
                source = tar.extractfile(member)
                assert source is not None  # a regular file
                saved = default_storage.save(name, File(source, name=name))
                if saved != name:
                    raise CommandError(f"{name} was stored as {saved}")
                count += 1
        self.stdout.write(f"Imported {count} stored file(s) from {archive}")
