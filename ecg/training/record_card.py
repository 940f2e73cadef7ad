"""The model card of a record-level heartbeat model: JSON beside the artifact, and its markdown.

Figures come from ``bench/heartbeat_protocols`` results (patients the evaluated model never saw);
each issue target is checked against them and a miss is written beside it with what was tried.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from ecg.processing import context

# (name, protocol key, class, "se" | "ppv", target)
TARGETS: list[tuple[str, str, str, str, float]] = [
    ("DS1 -> DS2 S sensitivity", "ds1_ds2", "S", "se", 0.80),
    ("DS1 -> DS2 S +P", "ds1_ds2", "S", "ppv", 0.50),
    ("DS1 -> DS2 V sensitivity", "ds1_ds2", "V", "se", 0.93),
    ("DS1 -> DS2 V +P", "ds1_ds2", "V", "ppv", 0.90),
    ("MIT-BIH -> svdb S sensitivity", "mitdb_to_svdb", "S", "se", 0.70),
    ("MIT-BIH -> svdb S +P", "mitdb_to_svdb", "S", "ppv", 0.50),
    ("MIT-BIH -> svdb V sensitivity", "mitdb_to_svdb", "V", "se", 0.85),
    ("MIT-BIH -> svdb V +P", "mitdb_to_svdb", "V", "ppv", 0.80),
    ("record-wise CV (all patients) S sensitivity", "cv_all", "S", "se", 0.85),
    ("record-wise CV (all patients) S +P", "cv_all", "S", "ppv", 0.70),
    ("record-wise CV (all patients) V sensitivity", "cv_all", "V", "se", 0.95),
    ("record-wise CV (all patients) V +P", "cv_all", "V", "ppv", 0.92),
]

ROOFLINE_TARGET = 0.60  # the classifier's beats per CPU-second at batch 1024 against its matmul roofline

PROTOCOL_NAMES = {
    "cv_all": "record-wise 5-fold cross-validation over all 96 patients (the estimate for this model)",
    "ds1_ds2": "trained on MIT-BIH DS1 only, tested on DS2 (de Chazal 2004, paced records excluded)",
    "mitdb_to_svdb": "trained on MIT-BIH only, tested on the 52 svdb records",
}


def roofline_check(result: dict[str, Any] | None, tried: str) -> list[dict[str, Any]]:
    """The performance target of the classifier itself, from ``bench.record_inference``'s ``result``: its
    beats per CPU-second at batch 1024 as a share of its matmul roofline (none without a result)."""
    if not result or result.get("roofline_fraction_median") is None:
        return []
    name = "beats per CPU-second at batch 1024, share of the matmul roofline (bench.record_inference)"
    target = float(result.get("target", ROOFLINE_TARGET))
    network, net_us, trees_us = (
        result.get(f"{key}_median")
        for key in ("network_roofline_fraction", "network_cpu_us_per_beat", "trees_cpu_us_per_beat")
    )
    if network is not None and net_us is not None and trees_us is not None:  # how the share splits
        tried = (
            f"in the same rounds the network alone reads {_pct(network)} of the roofline, and the trees take "
            f"{trees_us:.1f} us of CPU per beat against the network's {net_us:.1f}; {tried}"
        )
    row = _check(name, target, float(result["roofline_fraction_median"]), tried)
    rates = [r["matmul_gflop_per_cpu_s"] for r in result.get("rounds", []) if r.get("matmul_gflop_per_cpu_s")]
    if rates:  # the share is the machine's: say against which matmul rate it was read
        row["roofline_gflop_per_cpu_s"] = round(statistics.median(rates), 1)
    return [row]


def target_checks(metrics: dict[str, Any], tried: str) -> list[dict[str, Any]]:
    return [
        _check(name, target, (metrics.get(protocol, {}).get("classes", {}).get(cls, {}) or {}).get(key), tried)
        for name, protocol, cls, key, target in TARGETS
    ]


def _check(name: str, target: float, value: float | None, tried: str) -> dict[str, Any]:
    """One row of the card's targets: ``value`` against ``target`` (at least), with what was tried if missed."""
    met = value is not None and value >= target
    return {
        "target": name,
        "required": f">= {target:.2f}",
        "measured": value,
        "met": met,
        "short_by": None if met or value is None else round(target - value, 4),
        "what_was_tried": None if met else tried,
    }


def steps(text: str) -> list[str]:
    """A "what was tried" text as its steps: split at the semicolons outside parentheses, so a
    card lists one attempt per line rather than a paragraph of them."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == ";" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _tried(heading: str, text: str) -> list[str]:
    return ["", f"{heading}:", ""] + [f"- {step}" for step in steps(text)]


def _against(check: dict[str, Any]) -> str:
    """The matmul rate a roofline share was read against, which differs from machine to machine."""
    rate = check.get("roofline_gflop_per_cpu_s")
    return f" (against a matmul of {rate:.0f} GFLOP per CPU-second)" if rate else ""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _points(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} points"


def _interval(ci: Sequence[float] | None) -> str:
    return "" if not ci else f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def render_markdown(card: dict[str, Any]) -> str:
    lines = [
        f"# Model card: {card['task']} {card['version']}",
        "",
        card["summary"],
        "",
        "## What it is",
        "",
        f"- **Input**, per detected beat of a recording: {card['input']['description']}",
        f"- **Architecture**: {card['architecture']}",
        f"- **Cost**: {card['multiply_adds_per_beat']:,} multiply-adds per beat, {card['params']:,} parameters.",
        f"- **Training data**: {card['training_data']}",
        f"- **Validation**: {card['split']}",
        f"- **Class imbalance**: {card['class_imbalance']}",
        f"- **Reproduce**: `{card['command']}`"
        + (f" at code version {card['code_version']}" if card.get("code_version") else "")
        + f" (evaluation: `{card['evaluation_command']}`)",
        "",
        "## Figures on patients the model never saw",
        "",
        "Per-class sensitivity (Se) and positive predictivity (+P) over the pooled beats, EC57 beat matching "
        "(0.15 s), 95 % bootstrap intervals over records.",
        "",
        "| protocol | beats | N Se / +P | S Se / +P | V Se / +P | F Se / +P |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in PROTOCOL_NAMES.items():
        m = card["metrics"].get(key)
        if not m:
            continue
        cells = []
        for c in ("N", "S", "V", "F"):
            s = m["classes"][c]
            cells.append(
                f"{_pct(s['se'])}{_interval((s.get('ci95') or {}).get('se'))} / "
                f"{_pct(s['ppv'])}{_interval((s.get('ci95') or {}).get('ppv'))}"
            )
        lines.append(f"| {label} | {m['beats']:,} | " + " | ".join(cells) + " |")
    base = card["metrics"].get("baselines") or {}
    if base:
        lines += [
            "",
            "The earlier models through the product's beat-format path on the same records and matching:",
            "",
            "| model | records | S Se / +P | V Se / +P |",
            "|---|---|---|---|",
        ]
        for key, m in base.items():
            s, v = m["classes"]["S"], m["classes"]["V"]
            lines.append(
                f"| {key.rsplit('_', 1)[0]} | {key.rsplit('_', 1)[1]} | {_pct(s['se'])} / {_pct(s['ppv'])} | "
                f"{_pct(v['se'])} / {_pct(v['ppv'])} |"
            )
    lines += ["", "## Targets", "", "| target | required | measured | met |", "|---|---|---|---|"]
    for check in card["targets"]:
        lines.append(
            f"| {check['target']} | {check['required']} | {_pct(check['measured'])}{_against(check)} | "
            f"{'yes' if check['met'] else 'no, short by ' + _points(check['short_by'])} |"
        )
    for check in card["targets"]:
        if not check["met"] and check.get("what_was_tried") and check["what_was_tried"] != card["what_was_tried"]:
            lines += _tried(f"What was tried for {check['target']}", check["what_was_tried"])
    missed = any(not c["met"] and c.get("what_was_tried") == card["what_was_tried"] for c in card["targets"])
    heading = "for the missed targets" if missed else "on the way to the classification targets"
    lines += _tried(f"What was tried {heading}", card["what_was_tried"])
    lines += [
        "",
        "Each step, measured by the same record-wise cross-validation (pooled Se / +P, %):",
        "",
        "| inputs · configuration | S | V |",
        "|---|---|---|",
    ]
    for step in card.get("history", []):
        lines.append(f"| {step['inputs']} · {step['config']} | {step['S']} | {step['V']} |")
    nstdb = card["metrics"].get("nstdb")
    if nstdb:
        lines += [
            "",
            "## Noise (nstdb: MIT-BIH 118 and 119 with electrode-motion noise)",
            "",
            "The model saw the clean 118 and 119 in training, so this measures robustness to noise, not unseen patients.",
            "",
            "| SNR | detection Se / +P | N Se / +P | S Se / +P | V Se / +P |",
            "|---|---|---|---|---|",
        ]
        for snr, m in nstdb.items():
            if not isinstance(m, dict) or "classes" not in m:
                continue
            det = m["detection"]
            cells = [f"{_pct(m['classes'][c]['se'])} / {_pct(m['classes'][c]['ppv'])}" for c in ("N", "S", "V")]
            lines.append(f"| {snr} | {_pct(det['se'])} / {_pct(det['ppv'])} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Per-record figures",
        "",
        "Each record's S and V figures in the cross-validation (the fold that held it out):",
        "",
        "| record | beats | S n | S Se | S +P | V n | V Se | V +P |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rid, r in sorted((card["metrics"].get("cv_all") or {}).get("records", {}).items()):
        n = sum(sum(row) for row in r["confusion"])
        lines.append(
            f"| {rid} | {n} | {r['S']['n']} | {_pct(r['S']['se'])} | {_pct(r['S']['ppv'])} | "
            f"{r['V']['n']} | {_pct(r['V']['se'])} | {_pct(r['V']['ppv'])} |"
        )
    lines += ["", "## What this means for a clinic", "", card["clinic_note"], ""]
    return "\n".join(lines)


INPUT_DESCRIPTION = (
    f"the beat's morphology at {context.CONTEXT_FS:g} Hz ({context.WINDOW_BEFORE} samples before and "
    f"{context.WINDOW_AFTER} after the R-peak, 0.5-40 Hz), of both leads when the record has two, in units of "
    "the record's own dominant-beat amplitude, each beside its difference from the record's running median "
    "beat; and RR intervals relative to the patient's own rhythm (previous, next, local, 40-beat median, "
    "record mean, neighbours' prematurity, irregularity) with the beat's correlation, residual, amplitude, "
    "slope, QRS-width and P-wave differences from the dominant beat"
)
