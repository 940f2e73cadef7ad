"""Model inference: beats/s per batch size against the roofline and the seed's model, in one run.

    .venv/bin/python -m bench.inference [--rounds 3] [--seconds 0.6]

Measures, interleaved in each round so that all figures share the machine's load of the moment:
float32 matrix multiply rate (the roofline: beats/s ceiling = FLOP/s / (2 x multiply-adds per
beat)); beats/s of every shipped heartbeat and MI model and the seed's heartbeat model
(`../shared/seed/model_ECG_final.h5`, loaded read-only) at batch 1, 32, 256, 1024, 8192 through
the product path (`ecg.models.inference.predict`), and at batch 1 and 1024 through the alternatives
(the Keras model call as a tf.function, eager `model(x)`, Keras `predict`, XLA `jit_compile`, and ONNX Runtime when `onnxruntime` and
`tf2onnx` are importable); single-beat latency; the per-call overhead floor; per-layer time of the
shipped heartbeat model. Ratios are computed within each round, then the median is reported.
Every rate is given per wall-clock second and per CPU-second of this process: on a shared machine
the second is robust to the CPU time other processes take. ONNX Runtime is optional: install it
outside the venv (`pip install --target DIR onnxruntime tf2onnx onnx`) and run with PYTHONPATH=DIR.
Writes bench/results/inference.json.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from bench.common import ARTIFACTS, REPO, SEED_DIR

BATCHES = (1, 32, 256, 1024, 8192)
ALT_BATCHES = (1, 1024)


def rate(fn, x, seconds: float) -> tuple[float, float]:
    """Items per wall-clock second and per CPU-second of this process, of ``fn(x)``.

    The machine is shared: other processes take CPU time from us, which lowers the wall-clock
    rate but not the rate per CPU-second actually given to us (all threads counted).
    """
    fn(x)
    calls, started, cpu = 0, time.perf_counter(), time.process_time()
    while calls < 2 or time.perf_counter() - started < seconds:
        fn(x)
        calls += 1
    items = calls * len(x)
    return items / (time.perf_counter() - started), items / max(time.process_time() - cpu, 1e-9)


def matmul_flops(seconds: float, n: int = 2048) -> tuple[float, float]:
    """float32 matrix multiply FLOP per wall-clock second and per CPU-second (TensorFlow, n x n)."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    mm = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    wall, cpu = rate(lambda _: mm().numpy(), [None], seconds)
    return 2 * n**3 * wall, 2 * n**3 * cpu


def blas_matmul_flops(seconds: float, n: int = 2048) -> float:
    """float32 matrix multiply FLOP per CPU-second by numpy's BLAS on one thread.

    TensorFlow's matmul on two threads can read well under what one core does (seen: 50-58 against
    79-90 GFLOP per CPU-second on the same machine, the threads' waiting counted as CPU time): a
    roofline read from it alone flatters whatever is measured against it."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    with threadpool_limits(1, user_api="blas"):
        return 2 * n**3 * rate(lambda _: a @ b, [None], seconds)[1]


def onnx_session(model):
    try:
        import onnxruntime as ort
        import tensorflow as tf
        import tf2onnx
    except ImportError:
        return None
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="beat")
    fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=[spec], opset=17)
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


def execution_paths(model, with_onnx: bool) -> dict:
    import tensorflow as tf

    from ecg.models import inference

    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
    xla = tf.function(lambda x: model(x, training=False), input_signature=[spec], jit_compile=True)
    keras_graph = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    paths = {
        "keras graph (tf.function of model(x))": lambda x: keras_graph(x).numpy(),
        "eager model(x)": lambda x: np.asarray(model(x, training=False)),
        "keras predict": lambda x: model.predict(x, batch_size=len(x), verbose=0),
        "xla jit_compile": lambda x: xla(x).numpy(),
    }
    ort = onnx_session(model) if with_onnx else None
    if ort is not None:
        paths["onnxruntime"] = ort
    product = lambda x: inference.predict(model, x[..., 0], batch_size=max(len(x), 1))  # noqa: E731
    return product, paths


def single_beat_latency(model, n: int = 300) -> dict:
    """One beat through ``inference.predict``, warm: wall-clock percentiles and CPU time per call."""
    from ecg.models import inference

    beat = np.random.default_rng(1).random((1, 187), dtype=np.float32)
    for _ in range(20):
        inference.predict(model, beat)
    times = []
    cpu = time.process_time()
    for _ in range(n):
        started = time.perf_counter()
        inference.predict(model, beat)
        times.append(time.perf_counter() - started)
    cpu = (time.process_time() - cpu) / n
    times.sort()
    return {
        "p50_ms": round(1e3 * times[n // 2], 3),
        "p95_ms": round(1e3 * times[int(0.95 * n)], 3),
        "min_ms": round(1e3 * times[0], 3),
        "cpu_ms_per_call": round(1e3 * cpu, 3),
    }


def overhead_floor(seconds: float) -> dict:
    """Cost of one graph call that does (almost) nothing, with the product's input shapes."""
    import tensorflow as tf

    spec = tf.TensorSpec((None, 187, 1), tf.float32)
    fn = tf.function(lambda x: x[:, :5, 0] * 1.0, input_signature=[spec])
    out = {}
    for batch in (1, 1024):
        x = np.zeros((batch, 187, 1), np.float32)
        wall, cpu = rate(lambda v: fn(v).numpy(), x, seconds)
        out[f"batch_{batch}"] = {
            "wall_us_per_call": round(1e6 * batch / wall, 1),
            "cpu_us_per_call": round(1e6 * batch / cpu, 1),
        }
    return out


def per_layer(model, batch: int, seconds: float) -> list[dict]:
    """Each layer on its own (graph mode, tensors already in TensorFlow), with its multiply-adds per beat."""
    import keras
    import tensorflow as tf

    from ecg.models.architectures import multiply_adds

    rows = []
    values = {id(model.inputs[0]): tf.constant(np.random.default_rng(2).random((batch, 187, 1), dtype=np.float32))}
    for layer in model.layers[1:]:
        inbound = layer._inbound_nodes[0]
        args = [values[id(t)] for t in inbound.input_tensors]
        arg = args if len(args) > 1 else args[0]
        fn = tf.function(lambda a, layer=layer: tf.reduce_sum(layer(a, training=False)))
        out = layer(arg, training=False)
        values[id(inbound.output_tensors[0])] = out
        wall, cpu = rate(lambda _: fn(arg).numpy(), [None], seconds)
        macs = (
            multiply_adds(keras.Model(layer.input, layer.output))
            if isinstance(layer, (keras.layers.Conv1D, keras.layers.Dense))
            else 0
        )
        rows.append(
            {
                "layer": layer.name,
                "type": type(layer).__name__,
                "output_shape": list(out.shape[1:]),
                "cpu_us_per_call": round(1e6 / cpu, 1),
                "wall_us_per_call": round(1e6 / wall, 1),
                "multiply_adds_per_beat": macs,
                "gflop_per_cpu_s": round(2 * macs * batch * cpu / 1e9, 1) if macs else None,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.6, help="minimum time per measurement")
    parser.add_argument("--no-onnx", action="store_true", help="skip ONNX Runtime even if installed")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "inference.json")
    args = parser.parse_args()

    load_before = os.getloadavg()
    import keras
    import tensorflow as tf

    from ecg.models import inference
    from ecg.models.architectures import load_keras2_h5, multiply_adds

    models = {}
    for task in ("heartbeat", "mi"):
        paths = sorted(ARTIFACTS.glob(f"{task}-*.keras"))
        if not paths:
            print(f"no shipped {task} model in mlmodels/artifacts/; skipped", file=sys.stderr)
        for path in paths:
            card = json.loads(path.with_suffix(".json").read_text()) if path.with_suffix(".json").exists() else {}
            models[f"{task} {card.get('version', path.stem)}"] = inference.load_model(path, key=f"bench-{path.name}")
    seed_path = SEED_DIR / "model_ECG_final.h5"
    if seed_path.exists():
        models["seed heartbeat (model_ECG_final.h5)"] = load_keras2_h5(seed_path)
    macs = {name: multiply_adds(model) for name, model in models.items()}
    rng = np.random.default_rng(0)
    inputs = {b: rng.random((b, 187, 1), dtype=np.float32) for b in BATCHES}
    funcs = {name: execution_paths(model, not args.no_onnx) for name, model in models.items()}

    rounds = []
    for r in range(args.rounds):
        before = matmul_flops(args.seconds * 2)
        row = {"product": {}, "alternatives": {}}
        for name, (product, paths) in funcs.items():
            row["product"][name] = {b: rate(product, inputs[b], args.seconds) for b in BATCHES}
            row["alternatives"][name] = {
                path: {b: rate(fn, inputs[b], args.seconds) for b in ALT_BATCHES} for path, fn in paths.items()
            }
        after = matmul_flops(args.seconds * 2)
        row["matmul"] = ((before[0] + after[0]) / 2, (before[1] + after[1]) / 2)  # (wall, cpu) FLOP/s
        rounds.append(row)
        print(
            f"round {r + 1}: matmul {row['matmul'][0] / 1e9:.1f} GFLOP/s wall, "
            f"{row['matmul'][1] / 1e9:.1f} GFLOP per CPU-s",
            flush=True,
        )

    med = statistics.median
    clocks = {"wall": 0, "cpu": 1}
    result_models = {}
    seed_name = next((n for n in models if n.startswith("seed")), None)
    for name in models:

        def roofline(row, k, name=name):
            return row["matmul"][k] / (2 * macs[name])

        entry = {"multiply_adds_per_beat": macs[name]}
        for clock, k in clocks.items():
            unit = "per_s" if clock == "wall" else "per_cpu_s"
            entry[f"roofline_beats_{unit}"] = round(med([roofline(row, k) for row in rounds]))
            entry[f"beats_{unit}"] = {
                str(b): round(med([row["product"][name][b][k] for row in rounds])) for b in BATCHES
            }
            entry[f"fraction_of_roofline_{clock}"] = {
                str(b): round(med([row["product"][name][b][k] / roofline(row, k) for row in rounds]), 3)
                for b in BATCHES
            }
            entry[f"alternatives_beats_{unit}"] = {
                path: {
                    str(b): round(med([row["alternatives"][name][path][b][k] for row in rounds])) for b in ALT_BATCHES
                }
                for path in rounds[0]["alternatives"][name]
            }
            if seed_name and name != seed_name:
                entry[f"speedup_over_seed_{clock}"] = {
                    str(b): round(
                        med([row["product"][name][b][k] / row["product"][seed_name][b][k] for row in rounds]), 2
                    )
                    for b in BATCHES
                }
        entry["single_beat_latency"] = single_beat_latency(models[name])
        result_models[name] = entry
    heartbeat_name = (
        [n for n in models if n.startswith("heartbeat")][-1] if any(n.startswith("heartbeat") for n in models) else None
    )
    result = {
        "command": "python -m bench.inference",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "git_commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": _cpu_model(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        },
        "execution_path": "ecg.models.inference.predict: one tf.function per model, input_signature (None, 187, 1), "
        "traced at load; layers written as 2-D ops (fused Conv2D+bias+add+ReLU) when supported",
        "rounds": args.rounds,
        "matmul_gflops_wall_per_round": [round(row["matmul"][0] / 1e9, 1) for row in rounds],
        "matmul_gflop_per_cpu_s_per_round": [round(row["matmul"][1] / 1e9, 1) for row in rounds],
        "models": result_models,
        "overhead_floor": overhead_floor(args.seconds),
        "per_layer_batch_1024": per_layer(models[heartbeat_name], 1024, args.seconds / 2) if heartbeat_name else None,
        "per_layer_batch_1": per_layer(models[heartbeat_name], 1, args.seconds / 2) if heartbeat_name else None,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("per_layer")}, indent=2))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
