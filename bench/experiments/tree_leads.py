"""EXPERIMENT: the gradient-boosted trees reading the second lead's beat too (issue 14, session 27).

The blend shipped until heartbeat_record-2026.12-ctx3 averaged the network, which sees both leads,
with trees that saw the record-level features and the *first* lead's beat and beat - template at
32 Hz (`ecg.models.trees.tree_inputs` with ``FIRST_LEAD_CHANNELS``, 2). The V beats the classifier
misses on patients it never saw are often narrow in the first lead and wide only in the second (svdb
881, MIT-BIH 200: bench/README.md). Here the trees also read the second lead's beat and beat -
template (4 channels, shipped since ctx4 on these figures), everything else as shipped, scored as the
shipped recipe is:

- record-wise CV: the kept out-of-fold network probabilities (three seeds) averaged with trees fitted
  by the same folds (kept as ``trees_ld`` and ``trees_ld_ch4``, so a run resumes);
- the transfer protocols (DS1 -> DS2, MIT-BIH -> svdb): their kept blended probabilities with the
  shipped trees' part replaced by trees of each reading fitted on the same training records (the
  network's part is the blend's minus the shipped trees', which the shipped reading's row reproduces
  exactly);
- the V couplets and runs of the CV's classes on unseen patients, as `bench.rhythm_unseen` compares
  them (EC57's run-by-run comparison and overlap).

    .venv/bin/python -m bench.experiments.tree_leads

Result: bench/results/tree_leads.json. Nothing in the product changes with it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from bench import heartbeat_protocols as hp
from bench import rhythm_unseen
from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import class_changes, decided_confusions, protocol_inputs
from bench.experiments.v_pairs import run_figures, summary_line
from ecg.models import trees
from ecg.training import record as rt

OUTPUT = REPO / "bench" / "results" / "tree_leads.json"
# every row decided as the product decides now (so the first is not ctx3 as it shipped: S over N was x 1.5)
READINGS = {"first lead (ctx3's trees)": trees.FIRST_LEAD_CHANNELS, "both leads (ctx4's trees)": 4}
TRANSFERS = {"ds1_ds2": ("ds1", "ds2"), "mitdb_svdb": ("mitdb", "svdb")}


@contextmanager
def tree_channels(channels: int) -> Iterator[None]:
    """The trees read the first ``channels`` morphology channels for as long as the block runs."""
    before = trees.MORPH_CHANNELS
    trees.MORPH_CHANNELS = channels
    try:
        yield
    finally:
        trees.MORPH_CHANNELS = before


SHIPPED_CHANNELS = trees.MORPH_CHANNELS  # what the shipped trees read


def cv_trees(records, ids, channels: int) -> dict[str, np.ndarray]:
    """Out-of-fold probabilities of trees reading ``channels`` channels, by the CV's folds (kept under
    the name the CV gives trees of that reading, so the shipped trees' file is shared with it)."""
    params = dict(rt.CONFIGS[rhythm_unseen.CONFIG].tree_params)
    with tree_channels(channels):
        name = hp.tree_oof_name(rhythm_unseen.CONFIG)
        return hp._oof(name, records, ids, hp.tree_fold(records, rt.TREE_LEAD_DROPOUT, params))


def transfer_trees(records, name: str, channels: int) -> dict[str, np.ndarray]:
    """Probabilities of the test records of transfer protocol ``name`` from trees reading ``channels``
    channels, fitted on its training records as the shipped recipe fits them (kept)."""
    with tree_channels(channels):
        path = hp.TREE_OOF / f"transfer_{name}_trees{hp.tree_reading()}.npz"
    if path.exists():
        return dict(np.load(path))
    data = hp.data_dir(None)
    train_set, test_set = TRANSFERS[name]
    params = dict(rt.CONFIGS[rhythm_unseen.CONFIG].tree_params)
    with tree_channels(channels):
        clf = rt.fit_trees(
            records, rt.record_ids(data, train_set), seed=0, lead_dropout=rt.TREE_LEAD_DROPOUT, params=params
        )
        out = {t: rt.tree_probabilities(clf, records[t]) for t in rt.record_ids(data, test_set)}
    hp.TREE_OOF.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def main() -> None:
    load_before = os.getloadavg()
    ids, records, shipped, measures = protocol_inputs()
    seeds = [dict(np.load(hp.TREE_OOF / f"{hp.seed_oof_name(rhythm_unseen.CONFIG, s)}.npz")) for s in range(hp.SEEDS)]
    network = {r: np.mean([s[r] for s in seeds], axis=0) for r in ids}
    contexts = {rid: rhythm_unseen.record_context(rid, records[rid]) for rid in ids}
    first = {name: transfer_trees(records, name, SHIPPED_CHANNELS) for name in TRANSFERS}
    results: dict = {}
    before = None
    for reading, channels in READINGS.items():
        tree_cv = cv_trees(records, ids, channels)
        cv_probs = {r: (network[r] + tree_cv[r]) / 2 for r in ids}
        cv = decided_confusions(cv_probs, records, measures)
        out = {"tree_channels": channels, "cv": hp.figures_by_database(cv)}
        for name in TRANSFERS:
            kept = shipped[name]
            replaced = transfer_trees(records, name, channels)
            probs = {t: kept[t] - 0.5 * first[name][t] + 0.5 * replaced[t] for t in kept}
            if channels == SHIPPED_CHANNELS:  # the network's part recovered: the shipped blend again
                out[f"{name}_reconstruction_max_error"] = float(max(np.abs(probs[t] - kept[t]).max() for t in kept))
            mats = decided_confusions(probs, records, {t: measures[t] for t in kept})
            out[name] = hp.figures_by_database(mats, ("all",))["all"]
        out["runs_unseen"] = run_figures(ids, records, cv_probs, contexts)
        before = before or cv
        out["cv_changed_records"] = {k: class_changes(cv, before, k, top=10) for k in ("S", "V")}
        results[reading] = out
        print(summary_line(reading, out, width=22, classes=("S", "V")), flush=True)
    write_result(OUTPUT, {"machine": machine(load_before), "records": len(ids), "results": results})


if __name__ == "__main__":
    main()
