"""EXPERIMENT: how wide the record-level network would have to be to reach 60 % of its roofline (issue 11).

The shipped record-level classifier (three network members and 750 trees) reaches about a fifth of
its matmul roofline at batch 1024; the network alone about half (bench/README.md, Gaps). The gap is
the architecture's narrow convolutions (8, 16 and 32 channels over 108 samples) and pooling, and the
trees. This measures, in the same rounds on this machine, untrained three-member ensembles of the
shipped architecture (``ecg.models.record.build``) at wider widths through the product's fast graph
(``ecg.models.record_graph``), each against its own roofline (its multiply-adds per beat, the float32
matmul rate of the round), and the shipped model itself. The trees' time per beat is taken as the
shipped model's minus its width-32 network's, so the last column estimates each width with the same
trees. No accuracy is claimed for any width: a wider network would have to be retrained and every
clinical figure measured again.

    .venv/bin/python -m bench.experiments.roofline_width [--rounds 3] [--widths 32,64,128,256]

Result: bench/results/roofline_width.json.
"""

from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from bench.common import REPO, machine, newest_artifact, write_result
from bench.inference import matmul_flops, rate
from bench.record_inference import Pair

OUTPUT = REPO / "bench" / "results" / "roofline_width.json"
WIDTHS = (32, 64, 128, 256)
MEMBERS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument(
        "--widths",
        default=",".join(map(str, WIDTHS)),
        help="widths to measure; other than the default, the result is roofline_width_<widths>.json",
    )
    args = parser.parse_args()
    widths = tuple(int(w) for w in args.widths.split(","))
    if 32 not in widths:  # the trees' time is the shipped model's minus its width-32 network's
        parser.error("--widths must include 32, the shipped width")
    output = OUTPUT if widths == WIDTHS else OUTPUT.with_name(f"roofline_width_{'-'.join(map(str, widths))}.json")
    import keras

    from ecg.models import record as record_model
    from ecg.models import trees  # noqa: F401 - registers the tree layers of the shipped model
    from ecg.processing.context import MORPH_CHANNELS, N_FEATURES, WINDOW
    from ecg.training.record import ensemble, multiply_adds

    load_before = os.getloadavg()
    rng = np.random.default_rng(0)
    morph = rng.normal(size=(1024, WINDOW, MORPH_CHANNELS)).astype(np.float32)
    feats = rng.normal(size=(1024, N_FEATURES)).astype(np.float32)
    batch = Pair(morph, feats)
    models = {}
    for width in widths:
        members = [record_model.build(feats, seed=k, width=width) for k in range(MEMBERS)]
        models[width] = ensemble(members)
        record_model.warm_up(models[width])
    shipped_path = newest_artifact("heartbeat_record")
    shipped = keras.models.load_model(shipped_path, compile=False) if shipped_path else None
    if shipped is not None:
        record_model.warm_up(shipped)
    macs = {width: multiply_adds(model) for width, model in models.items()}
    rounds = []
    for _ in range(args.rounds):
        _, flops = matmul_flops(args.seconds)
        row: dict = {"matmul_gflop_per_cpu_s": round(flops / 1e9, 2), "network": {}}
        for width, model in models.items():
            _, beats = rate(lambda x, m=model: record_model.predict(m, x[0], x[1]), batch, args.seconds)
            row["network"][width] = {
                "beats_per_cpu_s": round(beats, 1),
                "roofline": round(beats * 2 * macs[width] / flops, 3),
            }
        if shipped is not None:
            _, beats = rate(lambda x: record_model.predict(shipped, x[0], x[1]), batch, args.seconds)
            trees_s = max(1.0 / beats - 1.0 / row["network"][32]["beats_per_cpu_s"], 0.0)
            row["shipped"] = {"beats_per_cpu_s": round(beats, 1), "roofline": round(beats * 2 * macs[32] / flops, 3)}
            row["trees_cpu_us_per_beat"] = round(1e6 * trees_s, 2)
            row["with_the_same_trees"] = {
                width: round(2 * macs[width] / flops / (1.0 / r["beats_per_cpu_s"] + trees_s), 3)
                for width, r in row["network"].items()
            }
        rounds.append(row)
        print(row, flush=True)

    def median(key: str, width: int | None = None, field: str = "roofline"):
        values = [r[key][width][field] if width is not None else r[key][field] for r in rounds if key in r]
        return statistics.median(values) if values else None

    result = {
        "command": "python -m bench.experiments.roofline_width"
        + ("" if widths == WIDTHS else f" --widths {args.widths}"),
        "members": MEMBERS,
        "multiply_adds_per_beat": macs,
        "network_roofline_median": {w: median("network", w) for w in widths},
        "network_beats_per_cpu_s_median": {w: median("network", w, "beats_per_cpu_s") for w in widths},
        "shipped_roofline_median": median("shipped") if shipped is not None else None,
        "trees_cpu_us_per_beat_median": statistics.median(r["trees_cpu_us_per_beat"] for r in rounds)
        if shipped is not None
        else None,
        "with_the_same_trees_median": {
            w: statistics.median(r["with_the_same_trees"][w] for r in rounds) for w in widths
        }
        if shipped is not None
        else None,
        "rounds": rounds,
        "machine": machine(load_before),
    }
    write_result(output, result)


if __name__ == "__main__":
    main()
