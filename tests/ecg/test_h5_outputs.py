"""A Keras 2 seed-architecture .h5 is rebuilt from the output count its last kernel declares: a file declaring
many is refused before any model is built (13 KB declaring 40,000 outputs had cost 4.6 GB and a 1 GB .keras)."""

import h5py
import pytest

from ecg.models.architectures import MAX_OUTPUTS, h5_n_outputs


def _declaring(path, outputs: int):
    shapes = {"conv1d_1": [(10, 1, 100), (100,)], "dense_1": [(6400, outputs), (outputs,)]}
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [k.encode() for k in shapes]
        for layer, weights in shapes.items():
            group = f.create_group(layer)
            names = []
            for weight, shape in zip(("kernel", "bias"), weights, strict=True):
                name = f"{layer}/{weight}:0"
                names.append(name.encode())
                group.create_dataset(name, shape=shape, dtype="f4", chunks=True, compression="gzip")  # nothing stored
            group.attrs["weight_names"] = names
    return path


@pytest.mark.parametrize("outputs", [1, 5, MAX_OUTPUTS])
def test_a_seed_models_outputs_are_read_from_its_last_kernel(tmp_path, outputs):
    assert h5_n_outputs(_declaring(tmp_path / "m.h5", outputs)) == outputs


def test_a_file_declaring_more_outputs_than_any_task_has_is_refused_before_a_model_is_built(tmp_path):
    path = _declaring(tmp_path / "bomb.h5", 40_000)
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match="declares 40000 outputs; at most 16"):
        h5_n_outputs(path)
