"""An uploaded model that unpacks to far more than it was sent as is refused before Keras reads it."""

import zipfile

import pytest

from ecgsite.errors import ModelRejected
from mlmodels.models import ModelVersion
from mlmodels.services import model_version_register

MIB = 1024 * 1024


def _padded(src, dst, *, members: int, each: int) -> None:
    """``src`` (a .keras archive) with ``members`` extra files of ``each`` zero bytes, deflated to a few KiB each."""
    with zipfile.ZipFile(src) as original, zipfile.ZipFile(dst, "w") as padded:
        for info in original.infolist():
            padded.writestr(info, original.read(info))
        for i in range(members):
            padded.writestr(f"assets/padding-{i}.bin", bytes(each), compress_type=zipfile.ZIP_DEFLATED)


@pytest.mark.django_db
def test_a_keras_archive_that_unpacks_past_the_model_limit_is_refused(settings, tiny_model_dir, tmp_path):
    # Keras writes everything under assets/ to a temporary directory, refusing only a member over 256 MiB: 800
    # members of 255 MiB of zeros, 200 MiB sent, had filled 200 GB of the web host's disk. Here at a small scale.
    settings.API_MAX_MODEL_BYTES = 4 * MIB
    bomb = tmp_path / "bomb.keras"
    _padded(tiny_model_dir / "heartbeat.keras", bomb, members=3, each=4 * MIB)
    assert bomb.stat().st_size < MIB
    with pytest.raises(ModelRejected, match="unpacks to") as refused:
        model_version_register(task="heartbeat", version="bomb", source=bomb)
    assert refused.value.field == "artifact"
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
def test_a_keras_archive_of_many_members_is_refused(tiny_model_dir, tmp_path):
    # each member is a file Keras creates on the web host's disk: a few bytes each, an archive of 200 MiB
    # had made millions
    bomb = tmp_path / "many.keras"
    _padded(tiny_model_dir / "heartbeat.keras", bomb, members=1100, each=0)
    with pytest.raises(ModelRejected, match="files"):
        model_version_register(task="heartbeat", version="many", source=bomb)
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
def test_a_keras_archive_within_the_limits_is_registered(settings, tiny_model_dir, tmp_path):
    settings.API_MAX_MODEL_BYTES = 4 * MIB
    padded = tmp_path / "padded.keras"
    _padded(tiny_model_dir / "heartbeat.keras", padded, members=3, each=MIB)
    mv = model_version_register(task="heartbeat", version="padded", source=padded)
    assert mv.class_labels == ["N", "S", "V", "F", "Q"]


def _weights_bomb(h5file, group: str, name: str, *, floats: int) -> None:
    """Replace the weight ``group/name`` with one declaring ``floats`` float32 zeros, stored as a few KiB."""
    import h5py

    with h5py.File(h5file, "r+") as h5:
        del h5[group][name]
        h5[group].create_dataset(name, shape=(floats,), dtype="float32", chunks=(1 << 18,), compression="gzip")


@pytest.mark.django_db
def test_a_keras_2_h5_whose_weights_unpack_past_the_model_limit_is_refused_unread(settings, tmp_path):
    # Keras reads a weight whole before comparing its shape with the layer's: a 2 MiB .h5 declaring 1 GiB of
    # compressed zeros had the loader take 1 GiB more memory on the web host, one of 20 GiB all of it
    from ..data import seed_dir

    settings.API_MAX_MODEL_BYTES = 4 * MIB
    bomb = tmp_path / "bomb.h5"
    bomb.write_bytes((seed_dir() / "model_ECG_final.h5").read_bytes())
    _weights_bomb(bomb, "model_weights/conv1d_3/conv1d_3", "bias:0", floats=4 * MIB)
    with pytest.raises(ModelRejected, match=r"its weights declare \d+ bytes; a model may hold at most 4194304"):
        model_version_register(task="heartbeat", version="bomb", source=bomb)
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
def test_a_keras_archive_whose_weights_unpack_past_the_model_limit_is_refused_unread(
    settings, tiny_model_dir, tmp_path
):
    settings.API_MAX_MODEL_BYTES = 4 * MIB
    weights = tmp_path / "model.weights.h5"
    with zipfile.ZipFile(tiny_model_dir / "heartbeat.keras") as original:
        weights.write_bytes(original.read("model.weights.h5"))
        _weights_bomb(weights, "layers/dense/vars", "1", floats=4 * MIB)
        bomb = tmp_path / "bomb.keras"
        with zipfile.ZipFile(bomb, "w") as packed:
            for info in original.infolist():
                data = weights.read_bytes() if info.filename == "model.weights.h5" else original.read(info)
                packed.writestr(info.filename, data)
    assert bomb.stat().st_size < MIB
    with pytest.raises(ModelRejected, match=r"its weights declare \d+ bytes"):
        model_version_register(task="heartbeat", version="bomb", source=bomb)
    assert not ModelVersion.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db
def test_a_model_whose_layers_need_more_memory_than_the_import_may_take_is_refused(settings, tiny_model_dir, tmp_path):
    # the layers are built from config.json before any weight is read: a 19 KiB .keras whose Dense layer declared
    # 5,000,000 units had the import take 19 GiB of the web host's memory for two minutes. Here 1,500,000.
    settings.ECG_MODEL_IMPORT_MEMORY_BYTES = 3 * 1024 * MIB
    bomb = tmp_path / "wide.keras"
    with zipfile.ZipFile(tiny_model_dir / "heartbeat.keras") as original, zipfile.ZipFile(bomb, "w") as packed:
        for info in original.infolist():
            data = original.read(info)
            if info.filename == "config.json":
                data = data.replace(b'"units": 5,', b'"units": 1500000,')
                assert data != original.read(info)
            packed.writestr(info.filename, data)
    with pytest.raises(ModelRejected, match="needs more than 3221225472 bytes of memory"):
        model_version_register(task="heartbeat", version="wide", source=bomb)
    assert not ModelVersion.objects.exists()
