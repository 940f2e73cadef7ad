"""From a ModelVersion to a loaded model: only the artifact the version was registered with is run."""

import pytest
from django.core.files.storage import default_storage

from ecg.models import inference
from mlmodels import registry

from ..conftest import model_version_from


def _forget(mv) -> None:
    inference._models.pop(mv.sha256, None)  # loaded by an earlier test: this one reads the file


@pytest.mark.django_db
def test_an_artifact_changed_in_storage_is_not_loaded(tiny_model_dir):
    # whoever can write the store (another host, a backup restored over it) had the workers run another model
    # than the version names, and every diagnosis record a version it was not made by
    mv = model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="tampered")
    _forget(mv)
    with default_storage.open(mv.artifact.name, "wb") as fh:
        fh.write((tiny_model_dir / "mi-high.keras").read_bytes())
    with pytest.raises(registry.ArtifactMismatch, match="sha256"):
        registry.model_for(mv)
    assert mv.sha256 not in inference._models


@pytest.mark.django_db
def test_an_object_store_copy_that_differs_is_fetched_again(tiny_model_dir, tmp_path, monkeypatch):
    # a local copy of an object-store artifact is named by its digest, in a shared temporary directory: a copy
    # that is not those bytes (left half-written, or put there by another local user) was loaded as it was
    mv = model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="cached")
    _forget(mv)

    class ObjectStore:  # no local paths, as S3Storage
        def path(self, name):
            raise NotImplementedError

        def open(self, name, mode="rb"):
            return default_storage.open(name, mode)

    monkeypatch.setattr(registry, "default_storage", ObjectStore())
    monkeypatch.setattr(registry, "_CACHE_DIR", tmp_path)
    planted = tmp_path / f"{mv.sha256}.keras"
    planted.write_bytes((tiny_model_dir / "mi-high.keras").read_bytes())
    model = registry.model_for(mv)
    assert model.output_shape[-1] == 5  # the heartbeat model, not the planted MI model
    assert registry.sha256_of(planted) == mv.sha256
