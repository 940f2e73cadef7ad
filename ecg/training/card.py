"""Model cards: the JSON written beside an artifact (heartbeat or MI), its target checks and its markdown.

One writer for both tasks: ``card_write`` saves the model, the card and its rendering in a run folder and,
when asked, copies the three files to the folder of shipped artifacts.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, cast

from ecg.constants import AAMI_CLASSES


def target_checks(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the card's task: required, measured, met, and the cause when missed."""
    return _mi_checks(card) if card["task"] == "mi" else _heartbeat_checks(card)


def render_markdown(card: dict[str, Any]) -> str:
    return _mi_markdown(card) if card["task"] == "mi" else _heartbeat_markdown(card)


def card_write(card: dict[str, Any], model: Any, run_dir: Path, *, ship_to: Path | None = None) -> Path:
    """Save ``<task>-<version>`` .keras, .json and .md in ``run_dir`` (and copy them to ``ship_to``); the .json path."""
    name = f"{card['task']}-{card['version']}"
    model.save(run_dir / f"{name}.keras")
    (run_dir / f"{name}.json").write_text(json.dumps(card, indent=2))
    (run_dir / f"{name}.md").write_text(render_markdown(card))
    if ship_to is not None:
        ship_to.mkdir(parents=True, exist_ok=True)
        for suffix in (".keras", ".json", ".md"):
            shutil.copyfile(run_dir / f"{name}{suffix}", ship_to / f"{name}{suffix}")
    return run_dir / f"{name}.json"


def code_version(checkout: Path) -> str:
    """The git commit the training ran from, for the card; "unknown" outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# Heartbeat model -----------------------------------------------------------------------------

# (metric path, comparison, target, cause reported when missed)
HEARTBEAT_TARGETS: list[tuple[str, str, tuple[str, ...], str, float, str]] = [
    (
        "intra-patient accuracy",
        "intra_patient",
        ("accuracy",),
        ">=",
        0.985,
        "class weights trade N precision for S/F sensitivity, and the remaining errors are S and F beats "
        "whose single-beat window looks like the same patient's N or V beats",
    ),
    (
        "intra-patient macro-F1",
        "intra_patient",
        ("macro_f1",),
        ">=",
        0.93,
        "F (803 beats in all, 373 of them from record 208) stays the weakest class: fusion beats lie between "
        "N and V in shape",
    ),
    (
        "DS2 S sensitivity",
        "inter_patient",
        ("per_class", "S", "sensitivity"),
        ">=",
        0.80,
        "S beats differ from N mainly by timing (prematurity = a short PREVIOUS RR interval), which the "
        "Kaggle-format input does not carry: a beat starts at its own R-peak and its length comes from the "
        "recording's median RR. Shape learned from DS1's patients transfers poorly; record 232 alone holds "
        "1,382 of DS2's 1,836 S beats",
    ),
    (
        "DS2 S +P",
        "inter_patient",
        ("per_class", "S", "ppv"),
        ">=",
        0.50,
        "class weighting that lifts S sensitivity turns N beats of unseen patients into S, concentrated in "
        "a few records (212, 113, 222, 111: see where the false positives come from)",
    ),
    (
        "DS2 V sensitivity",
        "inter_patient",
        ("per_class", "V", "sensitivity"),
        ">=",
        0.93,
        "V shape varies between patients; some DS2 V beats resemble DS1 N or F beats",
    ),
    (
        "DS2 V +P",
        "inter_patient",
        ("per_class", "V", "ppv"),
        ">=",
        0.90,
        "bundle-branch-block N beats (wide QRS, records 212, 214, 231, 117) of patients unseen in training are "
        "called V",
    ),
]


def _get(metrics: dict[str, Any], path: tuple[str, ...]) -> float | None:
    value: object = metrics
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value if isinstance(value, (int, float)) else None


def _heartbeat_checks(card: dict[str, Any]) -> list[dict[str, Any]]:
    checks = []
    for name, protocol, path, op, target, cause in HEARTBEAT_TARGETS:
        value = _get(card["metrics"].get(protocol, {}), path)
        met = value is not None and value >= target
        checks.append(
            {
                "target": name,
                "required": f"{op} {target}",
                "measured": value,
                "met": met,
                "cause_if_missed": None if met else cause,
            }
        )
    for protocol in ("inter_patient", "intra_patient"):
        ours = _get(card["metrics"].get(protocol, {}), ("macro_f1_nsvf",))
        seed = _get(card["metrics"].get("seed_model", {}).get(protocol, {}), ("macro_f1_nsvf",))
        if ours is not None and seed is not None:
            checks.append(
                {
                    "target": f"beats the seed model on {protocol.replace('_', '-')} macro-F1 (N,S,V,F)",
                    "required": f"> {seed:.4f}",
                    "measured": ours,
                    "met": ours > seed,
                    "cause_if_missed": None
                    if ours > seed
                    else "the seed model was trained on Kaggle's split of the same beats, so its figures "
                    "include beats it has seen (see the seed section)",
                }
            )
    return checks


def _fmt(value: float | None, pct: bool = True) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.1f}%" if pct else f"{value:.3f}"


def _metrics_table(metrics: dict[str, Any]) -> list[str]:
    lines = ["| class | reference beats | sensitivity | +P | F1 |", "|---|---:|---:|---:|---:|"]
    for c in AAMI_CLASSES:
        m = metrics["per_class"][c]
        lines.append(f"| {c} | {m['support']} | {_fmt(m['sensitivity'])} | {_fmt(m['ppv'])} | {_fmt(m['f1'], False)} |")
    lines.append("")
    lines.append(
        f"Accuracy {_fmt(metrics['accuracy'])} · macro-F1 (classes present) {_fmt(metrics['macro_f1'], False)}"
        f" · macro-F1 (N,S,V,F) {_fmt(metrics['macro_f1_nsvf'], False)} · {metrics['n_beats']} beats"
    )
    return lines


def _confusion(metrics: dict[str, Any]) -> list[str]:
    counts = metrics["confusion_matrix"]["counts"]
    lines = ["| reference \\ predicted | " + " | ".join(AAMI_CLASSES) + " |", "|---|" + "---:|" * len(AAMI_CLASSES)]
    for c, row in zip(AAMI_CLASSES, counts):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    return lines


def _heartbeat_markdown(card: dict[str, Any]) -> str:
    m = card["metrics"]
    out = [
        f"# Heartbeat model {card['version']}",
        "",
        f"5-class AAMI beat classifier ({', '.join(card['class_labels'])}) on Kaggle-format beats "
        f"({card['input']['length']} values at {card['input']['fs']:g} Hz, min-max scaled, starting at the R-peak).",
        "",
        "## Model",
        "",
        f"* Architecture: {card['architecture']['name']} — {card['architecture']['description']}",
        f"* Parameters: {card['params']:,}; multiply-adds per beat: {card['multiply_adds_per_beat']:,} "
        f"(seed model: {card['seed_model']['multiply_adds_per_beat']:,})",
        f"* Throughput at batch 1024 on this CPU: {card['beats_per_second']:,.0f} beats/s "
        f"(seed model: {card['seed_model']['beats_per_second']:,.0f} beats/s, "
        f"{card['beats_per_second'] / card['seed_model']['beats_per_second']:.1f}x)",
        f"* Hyperparameters: `{card['hyperparameters']}`",
        f"* Class imbalance: {card['class_imbalance']}",
        f"* Hyperparameter search: {card.get('search_summary') or 'not run'}",
        "",
        "## Data and split",
        "",
        f"* Training data: {card['training_data']}",
        f"* Split: {card['split']}",
        "",
    ]
    for key, title in (
        ("inter_patient", "Inter-patient (train DS1, test DS2) — what a clinic sees"),
        ("intra_patient", "Intra-patient (stratified 80/20 beat split, all 48 records)"),
    ):
        if key not in m:
            continue
        out += [f"## {title}", "", "### This model", ""] + _metrics_table(m[key]) + ["", "Confusion matrix:", ""]
        out += _confusion(m[key]) + [""]
        if m[key].get("false_positive_sources"):
            out += [
                "Where the false positives come from (records contributing most beats wrongly given each class):",
                "",
            ]
            for cls, src in m[key]["false_positive_sources"].items():
                tops = ", ".join(f"{r}: {n}" for r, n in src["top_records"].items())
                out.append(f"* {cls}: {src['false_positives']} false positives; {tops}")
            out.append("")
        seed = m.get("seed_model", {}).get(key)
        if seed:
            out += ["### Seed model (model_ECG_final.h5) on the same test beats", ""] + _metrics_table(seed) + [""]
            out += _confusion(seed) + [""]
    if card.get("baseline"):
        b = card["baseline"]
        out += [
            f"## Baseline: {b['architecture']['name']} architecture retrained with our data and split",
            "",
            f"{b['architecture']['description']}; {b['params']:,} parameters, "
            f"{b['multiply_adds_per_beat']:,} multiply-adds per beat. Command: `{b['command']}`",
            "",
        ]
        for key, metrics in b["metrics"].items():
            out += [f"### {key.replace('_', '-')}", ""] + _metrics_table(metrics) + [""]
    out += [
        "## Seed comparison caveat",
        "",
        card["seed_model"]["caveat"],
        "",
        "## Targets",
        "",
        "| target | required | measured | met | cause if missed |",
        "|---|---|---:|---|---|",
    ]
    for check in card["targets"]:
        value = check["measured"]
        shown = "n/a" if value is None else (f"{value:.4f}")
        out.append(
            f"| {check['target']} | {check['required']} | {shown} | {'yes' if check['met'] else 'NO'} | "
            f"{check['cause_if_missed'] or ''} |"
        )
    return "\n".join(out + _reproduce_and_notes(card))


# MI model ------------------------------------------------------------------------------------

MI_LIMITS = (
    "about 140 patients in all (the seed had 290 PTB subjects); lead II only, where anterior MI (most of "
    "the PTB-XL MI records) shows little; 10-s excerpts give ~11 near-identical beats per patient; "
    "validation folds hold ~10 MI patients, so a recall >= 0.95 threshold chosen there is noisy"
)


def _rec(card: dict[str, Any], model: str = "transfer") -> dict[str, Any]:
    source = card["seed_model"]["metrics"] if model == "seed" else card["metrics"].get(model)
    return cast(dict[str, Any], (source or {}).get("confident_mi", {}).get("recording", {}))


def _mi_checks(card: dict[str, Any]) -> list[dict[str, Any]]:
    ours_name = card["hyperparameters"]["init"]
    ours, seed = _rec(card, ours_name), _rec(card, "seed")
    checks = []

    def add(name: str, required: str, measured: float | None, met: bool, cause: str) -> None:
        checks.append(
            {
                "target": name,
                "required": required,
                "measured": measured,
                "met": bool(met),
                "cause_if_missed": None if met else cause,
            }
        )

    auc = ours.get("roc_auc")
    add("recording-level ROC AUC, patient-wise held out", ">= 0.98", auc, auc is not None and auc >= 0.98, MI_LIMITS)
    spec = ours.get("specificity_at_recall_95")
    add(
        "recording-level specificity at recall >= 0.95 (threshold set on the test scores themselves)",
        ">= 0.90",
        spec,
        spec is not None and spec >= 0.90,
        MI_LIMITS,
    )
    spec_val = ours.get("specificity")
    rec_val = ours.get("recall")
    add(
        "recording-level specificity at the validation-chosen threshold",
        ">= 0.90 with recall >= 0.95",
        spec_val,
        spec_val is not None and spec_val >= 0.90 and (rec_val or 0) >= 0.95,
        f"recall {rec_val:.3f} at this operating point; " + MI_LIMITS if rec_val is not None else MI_LIMITS,
    )
    add(
        "recording-level recall at the out-of-fold thresholds (each fold's validation-chosen threshold)",
        ">= 0.93",
        rec_val,
        rec_val is not None and rec_val >= 0.93,
        "each fold's threshold is chosen on ~10 MI validation patients (threshold_rule); " + MI_LIMITS,
    )
    if seed:
        for key, label in (("roc_auc", "ROC AUC"), ("specificity_at_recall_95", "specificity at recall >= 0.95")):
            a, b = ours.get(key), seed.get(key)
            if a is not None and b is not None:
                add(
                    f"better than the seed model on the same test patients ({label})",
                    f"> {b:.4f}",
                    a,
                    a > b,
                    "the seed learned from Kaggle's beats of all 290 PTB subjects (including our PTB test "
                    "patients); " + MI_LIMITS,
                )
    return checks


def _num(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _ci(m: dict[str, Any], key: str) -> str:
    lo, hi = m.get(f"{key}_ci95", [None, None])
    return f"{_num(m.get(key))} [{_num(lo)}, {_num(hi)}]"


def _table(rows: list[tuple[str, dict[str, Any]]], level: str) -> list[str]:
    lines = [
        f"| model | ROC AUC | recall | specificity | precision | spec. at recall>=0.95 | MI / normal patients | "
        f"{'recordings' if level == 'recording' else 'beats'} per repeat |",
        "|---|---|---|---|---|---|---|---:|",
    ]
    for name, summary in rows:
        m = summary.get(level, {})
        if not m:
            continue
        n = m["n_patients"]
        per = m.get("n_recordings_per_repeat") or m.get("n_beats_per_repeat")
        lines.append(
            f"| {name} | {_ci(m, 'roc_auc')} | {_ci(m, 'recall')} | {_ci(m, 'specificity')} | "
            f"{_ci(m, 'precision')} | {_ci(m, 'specificity_at_recall_95') if 'specificity_at_recall_95' in m else '-'} | "
            f"{n['mi']} / {n['normal']} | {per} |"
        )
    return lines


def _mi_markdown(card: dict[str, Any]) -> str:
    models = [(f"ours, {k} init", v) for k, v in card["metrics"].items()]
    if card["seed_model"].get("metrics"):
        models.append(("seed model_MI_final.h5", card["seed_model"]["metrics"]))
    op = card["operating_point"]
    out = [
        f"# MI model {card['version']}",
        "",
        "Screens a recording for myocardial infarction from its lead "
        f"{card['input']['lead']} beats (Kaggle format: {card['input']['length']} values at "
        f"{card['input']['fs']} Hz, min-max scaled, starting at the R-peak). Outputs softmax "
        f"[{', '.join(card['class_labels'])}]; {card['aggregation']}.",
        "",
        "## Operating point",
        "",
        f"* **Threshold {card['threshold']:.4f}** on the recording score. Rule: {card['threshold_rule']}",
        f"* At this threshold, cross-validated test recordings (all repeats pooled, confident MI): recall "
        f"{_num(op['cv_test_recall'])}, specificity {_num(op['cv_test_specificity'])}, precision "
        f"{_num(op['cv_test_precision'])} ({op['note']}).",
        "",
        "## Model",
        "",
        f"* {card['architecture']['description']}; base: {card['architecture']['base']}",
        f"* Parameters {card['params']:,}; multiply-adds per beat {card['multiply_adds_per_beat']:,} "
        f"(seed MI model: {card['seed_model']['multiply_adds_per_beat'] or 0:,})",
        f"* Training: `{card['hyperparameters']}`",
        "",
        "## Data",
        "",
        card["training_data"],
        "",
        "## Split",
        "",
        card["split"],
        "",
        "## Results (patient-wise held out)",
        "",
        "Figures over all repeats' test folds: point value, [patient-bootstrap 95% interval]. Recall, "
        "specificity and precision use each fold's own validation-chosen threshold; 'spec. at recall>=0.95' "
        "sets the threshold on the test scores themselves (per repeat, averaged) — the definition used for "
        "the seed target in the issue. Beat-level flags apply the recording threshold to single beats.",
        "",
    ]
    out += [
        "ROC AUC pools each repeat's five fold models, so it also pays for their differences in "
        "calibration; within single fold models (~28 test patients each) the recording-level ROC AUC averages "
        + ", ".join(
            f"{n} {_num(s['confident_mi']['recording'].get('roc_auc_mean_within_fold'))} (range "
            f"{_num((s['confident_mi']['recording'].get('roc_auc_within_fold_range') or [None])[0])}-"
            f"{_num((s['confident_mi']['recording'].get('roc_auc_within_fold_range') or [None, None])[1])})"
            for n, s in models
        )
        + ".",
        "",
    ]
    for subset, title in (
        ("confident_mi", "Confident MI vs normal (uncertain PTB-XL MI left out)"),
        ("all_mi", "All MI, including 'possible' (likelihood 15) PTB-XL MI as MI"),
    ):
        for level in ("recording", "beat"):
            out += [f"### {title} — {level} level", ""]
            out += _table([(n, s[subset]) for n, s in models], level) + [""]
    out += [
        "### Per source (recording level, confident MI, validation thresholds)",
        "",
        "| model | source | ROC AUC | recall | specificity | MI / normal patients | mean score MI / normal |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in models:
        for src, m in s["confident_mi"]["recording"].get("per_source", {}).items():
            out.append(
                f"| {name} | {src} | {_num(m.get('roc_auc'))} | {_num(m['recall'])} | {_num(m['specificity'])} | "
                f"{m['n_patients']['mi']} / {m['n_patients']['normal']} | "
                f"{_num(m['mean_score']['mi'])} / {_num(m['mean_score']['normal'])} |"
            )
    out += [
        "",
        "### Can the score tell the sources apart?",
        "",
        "ROC AUC of the recording score for 'PTB (not PTB-XL)' within one class: 0.5 = the score carries "
        "no source information.",
        "",
    ]
    for name, s in models:
        sc = s.get("source_check", {})
        parts = [
            f"{c}: {_num(sc[c]['roc_auc_ptb_vs_ptbxl'])} ({sc[c]['n_recordings_per_source']})"
            for c in ("normal", "mi")
            if c in sc
        ]
        raw = sc.get("unfiltered_ptb_input")
        if raw:
            parts.append(
                f"unfiltered PTB input changes the recording score by {raw['mean_abs_score_difference']:.3f} "
                f"on average (max {raw['max_abs_score_difference']:.3f})"
            )
        out.append(f"* {name}: " + "; ".join(parts))
    if card.get("applicability"):
        out += ["", "## Where the screen applies", ""] + [f"* {a}" for a in card["applicability"]]
    out += [
        "",
        "## Seed model caveat",
        "",
        card["seed_model"]["caveat"],
        "",
        "## Targets",
        "",
        "| target | required | measured | met | cause if missed |",
        "|---|---|---:|---|---|",
    ]
    for c in card["targets"]:
        out.append(
            f"| {c['target']} | {c['required']} | {_num(c['measured'], 4)} | {'yes' if c['met'] else 'NO'} | "
            f"{c['cause_if_missed'] or ''} |"
        )
    if card.get("dropped_records"):
        out += ["", "## Records that gave no beats", ""]
        out += [f"* {r['record']} ({r['source']}): {r['note']}" for r in card["dropped_records"]]
    return "\n".join(out + _reproduce_and_notes(card))


def _reproduce_and_notes(card: dict[str, Any]) -> list[str]:
    """The markdown card's closing sections, the same for every task: the command, the code, notes."""
    out = ["", "## Reproduce", "", "```", card["command"], "```", ""]
    out += [f"Created {card['created']} from code version {card['code_version']}.", ""]
    if card.get("notes"):
        out += ["## Notes", ""] + [f"* {n}" for n in card["notes"]] + [""]
    return out
