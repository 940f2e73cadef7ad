"""Figures bench/README.md quotes from a recorded result are that result's (bench/results/*.json)."""

import json

from ..data import REPO_ROOT

BENCH = REPO_ROOT / "bench"


def test_the_beat_format_models_speed_against_the_seed_is_the_inference_benchs():
    text = " ".join((BENCH / "README.md").read_text().split())
    models = json.loads((BENCH / "results" / "inference.json").read_text())["models"]
    ours, seed = models["heartbeat 2026.11-res2"], models["seed heartbeat (model_ECG_final.h5)"]
    cpu, wall = ours["beats_per_cpu_s"]["1024"], ours["beats_per_s"]["1024"]
    seed_cpu, seed_wall = seed["beats_per_cpu_s"]["1024"], seed["beats_per_s"]["1024"]
    quoted = (
        f"measures {cpu:,} vs {seed_cpu:,} beats per CPU-second at batch 1024 ({ours['speedup_over_seed_cpu']['1024']:.1f}x; "
        f"{wall:,} vs {seed_wall:,} beats/s wall-clock, {ours['speedup_over_seed_wall']['1024']:.1f}x; "
        "`results/inference.json`"
    )
    assert quoted in text
