"""EXPERIMENT (issue 11, the roofline): walks of the shipped blend's trees, timed in the same rounds.

The product walks a blend's trees by ``ecg.models.trees.fast_predictor`` (the compiled walk of
``ecg.models.tree_walk``, C built by ``make``: eight beats side by side, no branch on the data). Beside it, on the same
rows and in the same rounds:

* scikit-learn's compiled walk, one tree at a time over the rows (``trees.sklearn_predictor``, the
  product's walk until session 18 and its fallback when the library is not built);
* the product's walk for rows with a missing value (``tree_walk.walk_with_missing``, one beat at a
  time, branching at each node), which the product takes only when a row holds a NaN.

Rows: the tree inputs of MIT-BIH 208's beats at batch 1024, as ``bench.record_inference`` builds
them. Every walk's probabilities are checked against the layer's before timing; CPU microseconds
per beat, median of the rounds.

    .venv/bin/python -m bench.experiments.tree_walks [--rounds 7] [--seconds 1.0]

Results: bench/results/tree_walks.json.
"""

from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from bench.common import REPO, machine, newest_artifact, write_result
from bench.inference import rate
from bench.record_inference import record_batch

OUTPUT = REPO / "bench" / "results" / "tree_walks.json"


def cpu_us_per_beat(fn, rows, seconds: float) -> float:
    return 1e6 / rate(fn, rows, seconds)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    import keras

    from ecg.models import record_graph, tree_walk, trees

    load_before = os.getloadavg()
    path = newest_artifact("heartbeat_record")
    model = keras.models.load_model(path, compile=False)
    parts = record_graph.blend_parts(model)
    if parts is None:
        raise SystemExit(f"{path.name} is not a blend of network and trees")
    layer = parts[2]
    rows = trees.tree_inputs(*record_batch()[3:], parts[1].channels)
    arrays = trees.packed(layer)

    walks = {
        "product (tree_walk.walk, 8 beats side by side)": trees.fast_predictor(layer),
        "product, rows with missing values (tree_walk.walk_with_missing)": lambda x: trees.probabilities(
            tree_walk.walk_with_missing(x, arrays)
        ),
        "scikit-learn TreePredictor, tree by tree": trees.sklearn_predictor(layer),
    }
    expected = np.asarray(layer(rows))
    for name, fn in walks.items():
        np.testing.assert_allclose(fn(rows), expected, atol=1e-5, err_msg=name)
    rounds = [
        {name: round(cpu_us_per_beat(fn, rows, args.seconds), 2) for name, fn in walks.items()}
        for _ in range(args.rounds)
    ]
    medians = {name: statistics.median(r[name] for r in rounds) for name in walks}
    reference = medians["scikit-learn TreePredictor, tree by tree"]
    write_result(
        OUTPUT,
        {
            "command": "python -m bench.experiments.tree_walks",
            "model": path.stem,
            "trees": len(arrays["roots"]),
            "nodes": len(arrays["child"]),
            "mean_tree_depth": round(float(arrays["depth"].mean()), 2),
            "batch": len(rows),
            "cpu_us_per_beat_median": medians,
            "speed_up_over_scikit_learn": {name: round(reference / m, 2) for name, m in medians.items()},
            "rounds": rounds,
            "machine": machine(load_before),
        },
    )


if __name__ == "__main__":
    main()
