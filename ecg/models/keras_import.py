"""Check a Keras artifact and write it as a Keras 3 ``.keras`` file.

Run as ``python -m ecg.models.keras_import SRC DST [MAX_WEIGHT_BYTES [MAX_MEMORY_BYTES]]``: prints one
JSON object describing the model; one whose weights would take more than MAX_WEIGHT_BYTES once read is
refused unread, one whose loading needs more than MAX_MEMORY_BYTES of address space is refused.  It runs in its own process so that the web process, which accepts uploads in the admin,
never imports TensorFlow.
"""

import json
import sys
from pathlib import Path
from typing import Any

from ecg.processing.context import MORPH_CHANNELS, N_FEATURES, WINDOW


def weights_bytes(src: Path) -> int:
    """The bytes the weights of a .h5 or .keras file hold once read: their declared shapes, whatever their
    compression (Keras reads each weight whole before it compares its shape with the layer's)."""
    import zipfile

    import h5py

    def of_h5(fileobj: Any) -> int:
        total = 0

        def visit(name: str, obj: Any) -> None:
            nonlocal total
            if isinstance(obj, h5py.Dataset):
                if obj.is_virtual or obj.external:
                    raise ValueError(f"weight {name} is stored outside the file; a model's weights are in it")
                total += int(obj.size or 0) * obj.dtype.itemsize

        with h5py.File(fileobj, "r") as h5:
            h5.visititems(visit)
        return total

    if src.suffix.lower() in {".h5", ".hdf5"}:
        return of_h5(src)
    with zipfile.ZipFile(src) as archive:
        names = archive.namelist()
        if "model.weights.h5" in names:
            with archive.open("model.weights.h5") as member:
                return of_h5(member)
        if "model.weights.npz" in names:  # a zip inside the zip: its arrays' sizes as its own entries declare
            with archive.open("model.weights.npz") as member, zipfile.ZipFile(member) as npz:
                return sum(info.file_size for info in npz.infolist())
    return 0


def convert(src: Path, dst: Path, max_bytes: int | None = None) -> dict[str, Any]:
    import keras

    if max_bytes is not None and (declared := weights_bytes(src)) > max_bytes:
        # a few MiB of compressed zeros declaring GiBs had the loader allocate them all
        raise ValueError(f"its weights declare {declared} bytes; a model may hold at most {max_bytes}")
    if src.suffix.lower() in {".h5", ".hdf5"}:
        from ecg.models.architectures import load_keras2_h5

        model = load_keras2_h5(src)
    else:
        from ecg.models import trees  # noqa: F401 - registers the tree layers a blended model holds

        model = keras.models.load_model(src, compile=False)
    output_shape = list(model.output_shape[1:])
    if len(output_shape) != 1:
        raise ValueError(f"the model's output has shape {output_shape}; expected one vector of class scores")
    if len(model.inputs) == 2:
        shapes = {t.name.split(":")[0]: list(t.shape[1:]) for t in model.inputs}
        expected = {"morphology": [WINDOW, MORPH_CHANNELS], "features": [N_FEATURES]}
        if shapes != expected:
            raise ValueError(f"the model takes inputs {shapes}; a record-level model takes {expected}")
        kind, input_shape = "record", [WINDOW, MORPH_CHANNELS]
    else:
        input_shape = list(model.input_shape[1:])
        if input_shape not in ([187, 1], [187]):
            raise ValueError(f"the model takes input of shape {input_shape}; expected 187 values per beat")
        kind = "beat"
    model.save(dst)
    return {
        "input_kind": kind,
        "input_shape": input_shape,
        "outputs": output_shape[0],
        "params": int(model.count_params()),
    }


OUT_OF_MEMORY = {"MemoryError", "ResourceExhaustedError"}  # Python's, TensorFlow's


def main(argv: list[str]) -> int:
    if not 2 <= len(argv) <= 4 or not all(arg.isdigit() for arg in argv[2:]):
        print("usage: python -m ecg.models.keras_import SRC DST [MAX_WEIGHT_BYTES [MAX_MEMORY_BYTES]]", file=sys.stderr)
        return 2
    memory = int(argv[3]) if len(argv) == 4 else None
    if memory is not None:
        # the layers are built from the file's config before any weight is read: a 19 KiB file declaring one wide
        # layer took 19 GiB; past this the allocation fails here, not on the host
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        info = convert(Path(argv[0]), Path(argv[1]), int(argv[2]) if len(argv) >= 3 else None)
    except Exception as exc:  # any failure to load is reported to the admin as a message
        if memory is not None and type(exc).__name__ in OUT_OF_MEMORY:
            print(json.dumps({"error": f"loading it needs more than {memory} bytes of memory"}))
        else:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
