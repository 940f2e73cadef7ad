"""Check a Keras artifact and write it as a Keras 3 ``.keras`` file.

Run as ``python -m ecg.models.keras_import SRC DST``: prints one JSON object
describing the model.  It runs in its own process so that the web process,
which accepts uploads in the admin, never imports TensorFlow.
"""

import json
import sys
from pathlib import Path
from typing import Any

from ecg.processing.context import MORPH_CHANNELS, N_FEATURES, WINDOW


def convert(src: Path, dst: Path) -> dict[str, Any]:
    import keras

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


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m ecg.models.keras_import SRC DST", file=sys.stderr)
        return 2
    try:
        info = convert(Path(argv[0]), Path(argv[1]))
    except Exception as exc:  # any failure to load is reported to the admin as a message
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
