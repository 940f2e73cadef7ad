"""The shipped record-level heartbeat model's speed against its matmul roofline, in one run.

    .venv/bin/python -m bench.record_inference [--rounds 5] [--seconds 1.0] [--model PATH]

Each round measures, back to back so both share the machine's load of the moment, the float32
matrix-multiply rate (the roofline: beats/s ceiling = FLOP/s / (2 x multiply-adds per beat); the
faster per CPU-second of TensorFlow's 2048 x 2048 matmul and numpy's BLAS on one thread, both
recorded: on some machines TensorFlow's two threads read a third under one core's rate) and
the model's beats per CPU-second at batch 1024 through the product path
(``ecg.models.record.predict``), plus the context stage (``record_context``) per beat on a real
record. In the same rounds it measures the Keras model's own call as one graph function (the path
before ``ecg.models.record_graph``), and with ``--candidates`` every layout of
``record_graph.fast_graph`` with and without XLA (``jit_compile``). The median over rounds of the
per-round ratio is reported. For a blend of network and trees it also times, in the same rounds,
the network's fast graph alone (all of the model's multiply-adds are the network's, so its share is
read against the same roofline) and the trees' walk alone (CPU microseconds per beat): how the
model's share splits between them. Writes bench/results/record_inference.json (with
``--candidates``, bench/results/record_inference_candidates.json).
"""

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from bench.common import DATA_DIR, REPO, machine, newest_artifact, write_result
from bench.inference import blas_matmul_flops, matmul_flops, rate

TARGET = 0.60  # issue 11: beats per CPU-second at batch 1024 >= 60 % of the matmul roofline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--candidates", action="store_true", help="also every fast-graph layout, with and without XLA")
    parser.add_argument(
        "--model",
        type=Path,
        help="a candidate artifact (e.g. from training-runs/) instead of the newest shipped one; "
        "the result is written as record_inference_<its name>.json",
    )
    args = parser.parse_args()
    import keras

    from ecg.models import record as record_model
    from ecg.models import record_graph
    from ecg.processing.context import record_context
    from ecg.training.record import multiply_adds

    load_before = os.getloadavg()
    path = args.model or newest_artifact("heartbeat_record")
    if path is None:
        raise SystemExit("no record-level model in mlmodels/artifacts/")
    from ecg.models import trees  # registers the tree layers of a blended model

    model = keras.models.load_model(path, compile=False)
    record_model.warm_up(model)
    macs = multiply_adds(model)
    rec, leads, peaks, morph, feats = record_batch()
    graphs = {"keras_graph": record_model.keras_graph(model)}
    if args.candidates:
        for layout in record_graph.LAYOUTS:
            for jit in (False,) if layout == "native" else (False, True):  # XLA compiles TensorFlow's graphs only
                graphs[layout + (" xla" if jit else "")] = record_graph.fast_graph(
                    model, layout=layout, jit_compile=jit
                )
    reference = graphs["keras_graph"](morph, feats).numpy()
    for name, fn in graphs.items():  # every candidate computes the model's probabilities
        np.testing.assert_allclose(np.asarray(fn(morph, feats)), reference, rtol=1e-5, atol=1e-5, err_msg=name)
    parts = record_graph.blend_parts(model)
    network_alone = tree_walk = None
    if parts is not None:  # the blend's two halves, each timed alone in the same rounds
        network, row_layer, tree_layer = parts
        network_alone = record_graph.fast_graph(network)
        tree_walk = trees.fast_predictor(tree_layer)
        if network_alone is not None:  # the network's own probabilities, by its fast graph
            expected = np.asarray(network([morph, feats], training=False))
            np.testing.assert_allclose(
                np.asarray(network_alone(morph, feats)), expected, rtol=1e-5, atol=1e-5, err_msg="network alone"
            )
    product = record_model.predict(model, morph, feats)
    np.testing.assert_allclose(product, reference, rtol=1e-5, atol=1e-5, err_msg="product path")
    rounds = []
    for _ in range(args.rounds):
        _, tf_flops_cpu = matmul_flops(args.seconds)
        blas_flops_cpu = blas_matmul_flops(args.seconds)
        flops_cpu = max(tf_flops_cpu, blas_flops_cpu)  # the roofline: the faster matmul of the round
        _, beats_cpu = rate(
            lambda x: record_model.predict(model, x[0], x[1], batch_size=1024), Pair(morph, feats), args.seconds
        )
        others = {
            name: rate(lambda x, fn=fn: np.asarray(fn(x[0], x[1])), Pair(morph, feats), args.seconds)[1]
            for name, fn in graphs.items()
        }
        parts_timed = {}
        if network_alone is not None:
            beats = rate(lambda x: np.asarray(network_alone(x[0], x[1])), Pair(morph, feats), args.seconds)[1]
            parts_timed["network_roofline_fraction"] = round(beats * 2 * macs / flops_cpu, 3)
            parts_timed["network_cpu_us_per_beat"] = round(1e6 / beats, 2)
        if tree_walk is not None:
            beats = rate(
                lambda x: tree_walk(trees.tree_inputs(x[0], x[1], row_layer.channels)), Pair(morph, feats), args.seconds
            )[1]
            parts_timed["trees_cpu_us_per_beat"] = round(1e6 / beats, 2)
        cpu = time.process_time()
        record_context(leads, rec.fs, peaks)
        context_cpu_per_beat = (time.process_time() - cpu) / len(peaks)
        rounds.append(
            {
                "matmul_gflop_per_cpu_s": round(flops_cpu / 1e9, 2),
                "tensorflow_matmul_gflop_per_cpu_s": round(tf_flops_cpu / 1e9, 2),
                "blas_one_thread_matmul_gflop_per_cpu_s": round(blas_flops_cpu / 1e9, 2),
                "beats_per_cpu_s": round(beats_cpu, 1),
                "roofline_fraction": round(beats_cpu * 2 * macs / flops_cpu, 3),
                **parts_timed,
                "context_cpu_ms_per_beat": round(1000 * context_cpu_per_beat, 4),
                "others_roofline_fraction": {
                    name: round(beats * 2 * macs / flops_cpu, 3) for name, beats in others.items()
                },
            }
        )
    fraction = statistics.median(r["roofline_fraction"] for r in rounds)
    result = {
        "command": "python -m bench.record_inference"
        + (" --candidates" if args.candidates else "")
        + (f" --model {path.name}" if args.model else ""),
        "model": path.stem,
        "multiply_adds_per_beat": macs,
        "batch": 1024,
        "rounds": rounds,
        "roofline_fraction_median": fraction,
        "beats_per_cpu_s_median": statistics.median(r["beats_per_cpu_s"] for r in rounds),
        "context_cpu_ms_per_beat_median": statistics.median(r["context_cpu_ms_per_beat"] for r in rounds),
        **{
            f"{key}_median": statistics.median(r[key] for r in rounds)
            for key in ("network_roofline_fraction", "network_cpu_us_per_beat", "trees_cpu_us_per_beat")
            if key in rounds[0]
        },
        "others_roofline_fraction_median": {
            name: statistics.median(r["others_roofline_fraction"][name] for r in rounds) for name in graphs
        },
        "target": TARGET,
        "met": fraction >= TARGET,
        "machine": machine(load_before),
    }
    name = "record_inference_candidates.json" if args.candidates else "record_inference.json"
    if args.model:
        name = f"record_inference_{path.stem}.json"
    write_result(REPO / "bench" / "results" / name, result)


def record_batch(batch: int = 1024):
    """MIT-BIH 208 read and its beats found as the product does: (the record, its two leads, the
    R-peaks, and the model's inputs of its beats repeated to ``batch`` rows: morphology, features)."""
    import wfdb

    from ecg.processing.context import record_context
    from ecg.processing.detection import detect_r_peaks

    rec = wfdb.rdrecord(str(DATA_DIR / "mitdb" / "208"))
    leads = [np.nan_to_num(rec.p_signal[:, 0]), np.nan_to_num(rec.p_signal[:, 1])]
    peaks = detect_r_peaks(leads[0], rec.fs)
    ctx = record_context(leads, rec.fs, peaks)
    reps = -(-batch // len(peaks))
    return rec, leads, peaks, np.tile(ctx.morphology, (reps, 1, 1))[:batch], np.tile(ctx.features, (reps, 1))[:batch]


class Pair:
    """Two arrays passed as one batch to ``rate`` (which counts ``len`` items per call)."""

    def __init__(self, morph, feats):
        self.morph, self.feats = morph, feats

    def __len__(self) -> int:
        return len(self.feats)

    def __getitem__(self, i):
        return (self.morph, self.feats)[i]


if __name__ == "__main__":
    main()
