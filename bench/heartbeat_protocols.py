"""Evaluate the record-level beat classifier on patients it never saw, by one resumable command.

    .venv/bin/python -m bench.heartbeat_protocols [--steps cv,ds1_ds2,mitdb_svdb,baselines,nstdb,headline]
        [--configs cnn_a1,mlp_a1,cnn_a05] [--config cnn_a05] [--data-dir DIR]

Steps (each writes bench/results/heartbeat_protocols/<step>.json and is skipped when that file
exists; a CV step also keeps each finished fold, so an interrupted run resumes where it stopped):

* ``cv``: record-wise 5-fold cross-validation over every patient we have (MIT-BIH's 44 non-paced
  records and svdb's 52), for each candidate configuration; the configuration with the best
  pooled mean F1 of N, S and V is the one shipped and used by the other steps;
* ``cv_blend`` (also run by ``cv``): the shipped recipe by the CV folds (below), for ``--config``
  (a configuration other than the shipped one, a candidate, writes ``cv_blend_<config>`` and so on);
* ``ds1_ds2``: trained on DS1 only, tested on DS2 (de Chazal 2004; paced records excluded);
* ``mitdb_svdb``: trained on MIT-BIH only, tested on the 52 svdb records (both: three seeds averaged,
  the shipped recipe; cross-validation folds train one seed each);
* ``baselines``: the seed's model and heartbeat res2 on DS2 and svdb through the product's
  beat-format path (detector, Kaggle-format cut) and the same beat matching;
* ``nstdb``: detection and classification Se/+P per SNR (MIT-BIH 118/119 with electrode-motion
  noise) with the shipped model (which saw the clean 118/119 in training: say so when quoting);
* ``trees``: gradient-boosted trees over the same inputs by the same folds, alone and averaged with
  the chosen network (out-of-fold probabilities kept in training-runs/oof, so a run resumes);
* ``headline``: bench/results/heartbeat_protocols.json with per-class Se/+P of each protocol.

``--recipe blend`` (the default, the shipped recipe) adds to ``cv`` the record-wise CV of the network
and trees averaged (``cv_blend``, one network seed and one tree model per fold) and runs the transfer
protocols for the blend (``ds1_ds2_blend``, ``mitdb_svdb_blend``: three seeds averaged, then averaged
with trees fitted on the same training records); ``--recipe network`` runs them for the network alone.

Beats are scored EC57 style (a detection matches the reference beat within 0.15 s); intervals are
95 % bootstrap percentiles over records.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ecg.constants import AAMI_CLASSES
from ecg.datasets import paths
from ecg.evaluation import protocols
from ecg.training import record as rt

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "results" / "heartbeat_protocols"
CACHE = REPO / "training-runs" / "cache"
FOLDS = 5
SEEDS = 3  # models averaged in the transfer protocols, as in the shipped model
CONFIGS = rt.CONFIGS
SHIPPED = "cnn_a05"  # the shipped model's configuration (heartbeat_record-2026.12-ctx4)


def named(base: str, config: str) -> str:
    """The name of ``config``'s result or kept file: the shipped configuration's keep the names they
    have always had; another's (a candidate measured beside it) carry the configuration's name."""
    return base if config == SHIPPED else f"{base}_{config}"


def data_dir(arg: str | None) -> Path:
    return Path(arg) if arg else paths.data_dir()


def all_records(arg: str | None = None) -> tuple[list[str], dict]:
    """(the ids of every patient, MIT-BIH's non-paced records and svdb's, and their cached record data)."""
    data = data_dir(arg)
    ids = rt.record_ids(data, "all")
    return ids, rt.load_records(data, ids, CACHE)


def folds(ids: list[str], k: int = FOLDS, seed: int = 0) -> list[list[str]]:
    """Records dealt to ``k`` folds, each database shuffled and dealt separately."""
    rng = np.random.default_rng(seed)
    out: list[list[str]] = [[] for _ in range(k)]
    n = 0
    for db in sorted({i.split("/")[0] for i in ids}):
        part = [i for i in ids if i.startswith(db + "/")]
        for rid in rng.permutation(part):
            out[n % k].append(str(rid))
            n += 1
    return out


def decide(
    probs: np.ndarray, r: rt.RecordData, run_rule: bool = True, measures: dict | None = None, shape_rule: bool = True
) -> np.ndarray:
    """Class indices as the product decides them (``ecg.models.decision.record_class_indices``): with
    ``shape_rule`` the V probability shared among the record's beats of one shape and weighted, then
    the most probable class, the supraventricular-run rules, then (given the analysed lead's waveform
    ``measures``) no S beat inside atrial fibrillation or flutter. ``run_rule`` False: the most
    probable class alone (the model without any rule)."""
    from ecg.models.decision import record_class_indices

    if not run_rule:
        return probs.argmax(axis=1)
    return record_class_indices(
        probs, list(AAMI_CLASSES), r.r_peaks, r.fs, measures=measures, morphology=r.morphology if shape_rule else None
    )


MEASURES = ("p_repetition", "atrial_frequency", "atrial_organisation")


def all_measures(data: Path, records, ids) -> dict[str, dict[str, np.ndarray]]:
    """Each record's waveform measures at its detected beats, on the analysed lead as the product
    measures them (``ecg.rhythm.analysis.waveform_measures``); kept in training-runs/oof."""
    path = TREE_OOF / "measures.npz"
    flat = dict(np.load(path)) if path.exists() else {}
    missing = [i for i in ids if f"{i}|{MEASURES[0]}" not in flat]
    for rid in missing:
        for name, values in record_measures(data / rid, records[rid]).items():
            flat[f"{rid}|{name}"] = values
    if missing:
        TREE_OOF.mkdir(parents=True, exist_ok=True)
        np.savez(path, **flat)
    return {i: {name: flat[f"{i}|{name}"] for name in MEASURES} for i in ids}


def record_measures(path: Path, r: rt.RecordData) -> dict[str, np.ndarray]:
    from ecg.rhythm.analysis import waveform_measures

    signal, fs, names, _, _ = rt.read_annotated(path)
    lead = np.nan_to_num(signal[:, rt.lead_order(names)[0]])
    measured = waveform_measures(lead, fs, r.r_peaks)
    return {name: measured[name] for name in MEASURES}


def per_record(model, records, ids, run_rule: bool = True, measures=None) -> dict[str, np.ndarray]:
    from ecg.models import record as record_model

    out = {}
    for rid in ids:
        r = records[rid]
        measured = None if measures is None else measures[rid]
        out[rid] = protocols.confusion(
            r.labels, decide(record_model.predict(model, r.morphology, r.features), r, run_rule, measured)
        )
    return out


def figures_by_database(
    mats: dict[str, np.ndarray], scopes: tuple[str, ...] = ("all", "svdb", "mitdb")
) -> dict[str, dict]:
    """Pooled N, S and V Se and +P over all records (``all``) or one database's, rounded for results files."""
    out = {}
    for scope in scopes:
        c = summary({r: m for r, m in mats.items() if scope == "all" or r.startswith(f"{scope}/")})["classes"]
        out[scope] = {k: {"se": round(c[k]["se"], 4), "ppv": round(c[k]["ppv"], 4)} for k in ("N", "S", "V")}
    return out


def save(name: str, payload: dict) -> None:
    protocols.result_save(OUT, name, payload)


def load(name: str) -> dict | None:
    return protocols.result_load(OUT, name)


def summary(mats: dict[str, np.ndarray], records=None) -> dict:
    rep = protocols.report(mats)
    if records is not None:
        missed = np.sum([records[r].missed for r in mats], axis=0)
        tp = int(sum((records[r].labels >= 0).sum() for r in mats))
        fp = int(sum((records[r].labels < 0).sum() for r in mats))
        fn = int(missed.sum())
        rep["detection"] = {"se": tp / max(tp + fn, 1), "ppv": tp / max(tp + fp, 1), "tp": tp, "fp": fp, "fn": fn}
    return rep


def step_cv(records, ids, configs: list[str], data: Path) -> None:
    """Record-wise CV; each fold's model is also scored on the noisy and resampled copies of its test
    records (``rt.VARIANTS``): what augmentation buys is robustness, which clean records cannot show."""
    todo = [name for name in configs if load(f"cv_{name}") is None]
    if not todo:
        return  # every result recorded: no copies to build or read
    copies = {v: rt.load_records(data, ids, CACHE, v) for v in rt.VARIANTS if v != "clean"}
    for name in todo:
        partial = load(f"cv_{name}.partial") or {"folds": {}}
        for k, test in enumerate(folds(ids)):
            if str(k) in partial["folds"]:
                continue
            train_ids = [i for i in ids if i not in test]
            t0 = time.time()
            model, info = rt.train(
                records,
                train_ids,
                CONFIGS[name],
                log=lambda m: print(f"  cv {name} fold {k}: {m}"),
                augmented=rt.augmented_copies(data, train_ids, CACHE, CONFIGS[name]),
            )
            mats = per_record(model, records, test)
            partial["folds"][str(k)] = {
                "test": test,
                "train_seconds": round(time.time() - t0),
                "val_score": info["best_val_score"],
                "confusion": {r: m.tolist() for r, m in mats.items()},
                "copies": {
                    v: {r: m.tolist() for r, m in per_record(model, recs, test).items()} for v, recs in copies.items()
                },
            }
            save(f"cv_{name}.partial", partial)
        mats = {r: np.array(m) for f in partial["folds"].values() for r, m in f["confusion"].items()}
        on_copies = {
            v: summary({r: np.array(m) for f in partial["folds"].values() for r, m in f["copies"][v].items()}, recs)
            for v, recs in copies.items()
        }
        for rep in on_copies.values():
            rep.pop("records", None)
        save(
            f"cv_{name}",
            {
                "config": CONFIGS[name].__dict__,
                **summary(mats, records),
                "on_copies": on_copies,
                "folds": {k: f["test"] for k, f in partial["folds"].items()},
            },
        )
        (OUT / f"cv_{name}.partial.json").unlink(missing_ok=True)


TREE_OOF = REPO / "training-runs" / "oof"


def seed_oof_name(config: str, seed: int) -> str:
    """The kept out-of-fold file of ``config``'s network ``seed`` by the CV folds: seed 0 is the CV's
    single-seed run (its file keeps that name), seeds 1.. are kept beside it."""
    return f"cv_{config}" if seed == 0 else f"cv_{config}_seed{seed}"


def _oof(name: str, records, ids, fit_predict) -> dict[str, np.ndarray]:
    """Out-of-fold class probabilities of every record, fold by fold (kept, so a run resumes)."""
    path = TREE_OOF / f"{name}.npz"
    out = dict(np.load(path)) if path.exists() else {}
    for k, test in enumerate(folds(ids)):
        if all(t in out for t in test):
            continue
        t0 = time.time()
        out.update(fit_predict(k, [i for i in ids if i not in test], test))
        TREE_OOF.mkdir(parents=True, exist_ok=True)
        np.savez(path, **out)
        print(f"  trees {name} fold {k}: {time.time() - t0:.0f} s")
    return out


def tree_reading() -> str:
    """What the trees read, in a kept file's name: nothing for the first lead's channels (the names
    kept files had before the trees read both leads), else ``_ch`` and the channel count."""
    from ecg.models import trees

    channels = trees.MORPH_CHANNELS
    return "" if channels == trees.FIRST_LEAD_CHANNELS else f"_ch{channels}"


def tree_oof_name(config: str) -> str:
    """The kept out-of-fold file of the trees blended with ``config``'s network: ``trees_ld`` for the
    shipped tree settings (the name it has always had), else named by the configuration; either
    followed by :func:`tree_reading`."""
    base = f"trees_ld_{config}" if CONFIGS[config].tree_params else "trees_ld"
    return base + tree_reading()


def tree_fold(records, lead_dropout: float = 0.0, params: dict | None = None):
    """``fit_predict(k, train, test)`` for ``_oof``: trees fitted on ``train`` (seed k), probabilities of
    ``test`` (``params`` replace settings of the shipped trees)."""

    def fit_predict(k, train, test):
        clf = rt.fit_trees(records, train, seed=k, lead_dropout=lead_dropout, params=params)
        return {t: rt.tree_probabilities(clf, records[t]) for t in test}

    return fit_predict


def network_fold(records, config: str, seed: int = 0, log=lambda m: None, changes: dict | None = None):
    """``fit_predict(k, train, test)`` for ``_oof``: one network of ``config`` (with ``changes`` to its
    settings) and ``seed`` per fold."""
    from ecg.models import record as record_model

    cfg = rt.TrainConfig(**{**CONFIGS[config].__dict__, **(changes or {}), "seed": seed})

    def fit_predict(k, train, test):
        model, _ = rt.train(records, train, cfg, log=lambda m: log(f"fold {k}: {m}"))
        return {t: record_model.predict(model, records[t].morphology, records[t].features) for t in test}

    return fit_predict


def step_trees(records, ids, config: str) -> None:
    """Gradient-boosted trees (scikit-learn's histogram GBM) over the same inputs, by the same
    record-wise folds, alone and averaged with the chosen network configuration."""
    if load("trees") is not None:
        return
    probs = {
        "trees": _oof("trees" + tree_reading(), records, ids, tree_fold(records)),
        config: _oof(f"cv_{config}", records, ids, network_fold(records, config)),
    }
    blends = {"trees": 0.0, config: 1.0, f"{config} + trees, equal weights": 0.5}
    out = {}
    for name, w in blends.items():
        mats = {
            r: protocols.confusion(records[r].labels, (w * probs[config][r] + (1 - w) * probs["trees"][r]).argmax(1))
            for r in ids
        }
        out[name] = summary(mats, records)
        out[name].pop("records", None)
        print(f"  trees {name}: {json.dumps({c: (s['se'], s['ppv']) for c, s in out[name]['classes'].items()})}")
    save("trees", out)


def blended(network, clf):
    """The shipped artifact's form: network and trees averaged in one Keras model."""
    from ecg.models import trees

    return trees.blend(network, trees.TreeEnsemble.from_export(trees.export(clf), name="trees"))


def step_cv_blend(records, ids, config: str, data: Path) -> None:
    """Record-wise CV of the shipped recipe, by the CV folds: SEEDS network seeds averaged, then
    averaged with one tree model per fold (out-of-fold probabilities of each seed and of the trees
    kept in training-runs/oof, so a run resumes). The figures of the first seed alone are kept beside."""
    from ecg.models import trees

    result_name = named("cv_blend", config)
    if load(result_name) is not None:
        return

    def log(seed):
        return lambda m: print(f"  cv {config} seed {seed} {m}")

    p_seeds = [
        _oof(
            seed_oof_name(config, seed),
            records,
            ids,
            network_fold(records, config, seed, log(seed)),
        )
        for seed in range(SEEDS)
    ]
    tree_params = dict(CONFIGS[config].tree_params)
    p_trees = _oof(tree_oof_name(config), records, ids, tree_fold(records, rt.TREE_LEAD_DROPOUT, tree_params))
    p_net = {r: np.mean([p[r] for p in p_seeds], axis=0) for r in ids}
    measures = all_measures(data, records, ids)

    def figures(net, run_rule: bool, atrial_rules: bool = True, shape_rule: bool = True) -> dict:
        mats = {
            r: protocols.confusion(
                records[r].labels,
                decide(
                    (net[r] + p_trees[r]) / 2, records[r], run_rule, measures[r] if atrial_rules else None, shape_rule
                ),
            )
            for r in ids
        }
        return summary(mats, records)

    compared = {
        "without_run_rule": figures(p_net, False),
        "without_atrial_rules": figures(p_net, True, atrial_rules=False),
        "without_shape_rule": figures(p_net, True, shape_rule=False),
        "one_network_seed": figures(p_seeds[0], True),
        "one_network_seed_without_run_rule": figures(p_seeds[0], False),
    }
    for rep in compared.values():
        rep.pop("records", None)
    save(
        result_name,
        {
            "config": {
                **CONFIGS[config].__dict__,
                "trees": rt.tree_settings(CONFIGS[config]),
                "tree_lead_dropout": rt.TREE_LEAD_DROPOUT,
                "tree_channels": trees.MORPH_CHANNELS,
            },
            "network_seeds": SEEDS,
            "decision": "the V probability shared among beats of one shape and weighted, the most probable class "
            "(a close call between N and S to S), then the supraventricular-run rules (atrial runs after a sinus "
            "beat with another P wave counted against its interval), then no S beat inside atrial fibrillation or "
            "flutter (ecg.models.decision)",
            **compared,
            **figures(p_net, True),
            "folds": {str(k): f for k, f in enumerate(folds(ids))},
        },
    )


def chosen_config(configs: list[str]) -> str:
    name = rt.chosen_config(OUT, configs)
    if name is None:
        raise SystemExit("run the cv step first")
    return name


def step_transfer(
    records, name: str, train_set: str, test_set: str, config: str, data: Path, *, blend: bool = False
) -> None:
    """Train on ``train_set``, test on ``test_set``: the network's seeds averaged, and with ``blend``
    averaged again with trees fitted on the same training records (the shipped recipe)."""
    kept_name = f"transfer_{name}_blend{tree_reading()}" if blend else f"transfer_{name}"
    name = named(f"{name}_blend" if blend else name, config)
    if load(name) is not None:
        return
    train_ids, test_ids = rt.record_ids(data, train_set), rt.record_ids(data, test_set)
    # the test records' probabilities are kept, so a change of the decision after the model is scored
    # again without training again (delete them to retrain)
    kept = TREE_OOF / f"{named(kept_name, config)}.npz"
    if kept.exists():
        probs = dict(np.load(kept))
        val_records = json.loads(kept.with_suffix(".json").read_text())
    else:
        members, val_records = [], []
        for seed in range(SEEDS):  # the shipped recipe: several seeds averaged
            cfg = rt.TrainConfig(**{**CONFIGS[config].__dict__, "seed": seed})
            model, info = rt.train(
                records,
                train_ids,
                cfg,
                log=lambda m, s=seed: print(f"  {name} seed {s}: {m}"),
                augmented=rt.augmented_copies(data, train_ids, CACHE, cfg),
            )
            members.append(model)
            val_records.append(info["val_records"])
        model = rt.ensemble(members)
        if blend:
            clf = rt.fit_trees(
                records,
                train_ids,
                seed=0,
                lead_dropout=rt.TREE_LEAD_DROPOUT,
                params=dict(CONFIGS[config].tree_params),
            )
            model = blended(model, clf)
        from ecg.models import record as record_model

        probs = {t: record_model.predict(model, records[t].morphology, records[t].features) for t in test_ids}
        TREE_OOF.mkdir(parents=True, exist_ok=True)
        np.savez(kept, **probs)
        kept.with_suffix(".json").write_text(json.dumps(val_records))

    measures = all_measures(data, records, test_ids)

    def figures(run_rule: bool, atrial_rules: bool = True, shape_rule: bool = True) -> dict:
        mats = {
            t: protocols.confusion(
                records[t].labels,
                decide(probs[t], records[t], run_rule, measures[t] if atrial_rules else None, shape_rule),
            )
            for t in test_ids
        }
        return summary(mats, records)

    without = figures(False)
    without.pop("records", None)
    without_atrial = figures(True, atrial_rules=False)
    without_atrial.pop("records", None)
    without_shape = figures(True, shape_rule=False)
    without_shape.pop("records", None)
    save(
        name,
        {
            "config": f"{config} + trees" if blend else config,
            "seeds": SEEDS,
            "train": train_set,
            "test": test_set,
            "val_records": val_records,
            "without_run_rule": without,
            "without_atrial_rules": without_atrial,
            "without_shape_rule": without_shape,
            **figures(True),
        },
    )


def step_baselines(records, data: Path) -> None:
    """The seed's model and heartbeat res2 through the product's beat-format path, same matching."""
    if load("baselines") is not None:
        return
    from ecg.models import inference
    from ecg.processing.segmenting import segment

    out = {}
    seed_dir = paths.seed_dir()
    models = {
        "res2": inference.load_model(REPO / "mlmodels" / "artifacts" / "heartbeat-2026.11-res2.keras", key="res2")
    }
    seed_keras = REPO / "training-runs" / "seed-heartbeat.keras"  # converted seed model: never committed
    if not seed_keras.exists():
        import subprocess
        import sys

        seed_keras.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "ecg.models.keras_import", str(seed_dir / "model_ECG_final.h5"), str(seed_keras)],
            check=True,
            cwd=REPO,
        )
    models["seed"] = inference.load_model(seed_keras, key="seed")
    for mname, model in models.items():
        for set_name in ("ds2", "svdb"):
            mats = {}
            for rid in rt.record_ids(data, set_name):
                signal, fs, names, ref, ref_cls = rt.read_annotated(data / rid)
                lead = np.nan_to_num(signal[:, rt.lead_order(names)[0]])
                beats, peaks = segment(lead, fs)
                pred = inference.predict(model, beats).argmax(axis=1)
                matched = protocols.match_beats(peaks, ref, fs)
                labels = np.where(matched >= 0, ref_cls[np.maximum(matched, 0)], -1)
                mats[rid] = protocols.confusion(labels, pred)
            out[f"{mname}_{set_name}"] = protocols.report(mats)
            print(
                f"  baselines {mname} {set_name}: {json.dumps({c: s['se'] for c, s in out[f'{mname}_{set_name}']['classes'].items()})}"
            )
    save("baselines", out)


def step_nstdb(data: Path, config: str) -> None:
    if load("nstdb") is not None:
        return
    import keras

    shipped = sorted((REPO / "mlmodels" / "artifacts").glob("heartbeat_record-*.keras"))
    if not shipped:
        raise SystemExit("ship a model first (manage.py train_heartbeat_record --ship), then run nstdb")
    from ecg.models import trees  # noqa: F401 - registers the tree layers of a blended model

    model = keras.models.load_model(shipped[-1], compile=False)
    out = {}
    for snr in ("24", "18", "12", "06", "00", "_6"):
        mats, det = {}, {"tp": 0, "fp": 0, "fn": 0}
        for base in ("118", "119"):
            r = rt.build_record(data / "nstdb" / f"{base}e{snr}")
            measured = record_measures(data / "nstdb" / f"{base}e{snr}", r)
            mats[base] = per_record(model, {base: r}, [base], measures={base: measured})[base]
            det["tp"] += int((r.labels >= 0).sum())
            det["fp"] += int((r.labels < 0).sum())
            det["fn"] += int(r.missed.sum())
        rep = protocols.report(mats, draws=0)
        rep["detection"] = {
            "se": det["tp"] / max(det["tp"] + det["fn"], 1),
            "ppv": det["tp"] / max(det["tp"] + det["fp"], 1),
            **det,
        }
        out[f"{snr.replace('_', '-')} dB"] = rep
    save("nstdb", {"model": shipped[-1].stem, **out})


def headline(results: dict) -> dict:
    return {c: {"se": s["se"], "ppv": s["ppv"]} for c, s in results["classes"].items() if c in ("N", "S", "V", "F")}


def step_headline(config: str, blend: bool) -> None:
    if config != SHIPPED:
        print(f"headline: {config} is a candidate; the headline file is the shipped configuration's ({SHIPPED})")
        return
    payload = {"config": f"{config} + trees" if blend else config}
    tail = "_blend" if blend else ""
    cv = "cv_blend" if blend else f"cv_{config}"
    for key, name in (("ds1_ds2", f"ds1_ds2{tail}"), ("mitdb_to_svdb", f"mitdb_svdb{tail}"), ("cv_all", cv)):
        res = load(name)
        if res is not None:
            payload[key] = headline(res)
    (REPO / "bench" / "results" / "heartbeat_protocols.json").write_text(json.dumps(payload, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="cv,ds1_ds2,mitdb_svdb,baselines,headline")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument(
        "--recipe",
        choices=("blend", "network"),
        default="blend",
        help="blend (shipped): the chosen network averaged with gradient-boosted trees; network: the network alone",
    )
    parser.add_argument(
        "--config",
        choices=sorted(CONFIGS),
        help="the shipped configuration, chosen by an experiment rather than by the cv step's best mean F1",
    )
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    data = data_dir(args.data_dir)
    configs = args.configs.split(",")
    steps = args.steps.split(",")
    records = rt.load_records(data, rt.record_ids(data, "all"), CACHE)
    ids = rt.record_ids(data, "all")
    if "cv" in steps:
        step_cv(records, ids, configs, data)
    config = args.config or (chosen_config(configs) if any(s != "baselines" for s in steps) else None)
    blend = args.recipe == "blend"
    if ("cv" in steps or "cv_blend" in steps) and blend:
        step_cv_blend(records, ids, config, data)
    if "ds1_ds2" in steps:
        step_transfer(records, "ds1_ds2", "ds1", "ds2", config, data, blend=blend)
    if "mitdb_svdb" in steps:
        step_transfer(records, "mitdb_svdb", "mitdb", "svdb", config, data, blend=blend)
    if "baselines" in steps:
        step_baselines(records, data)
    if "nstdb" in steps:
        step_nstdb(data, config)
    if "trees" in steps:
        step_trees(records, ids, config)
    if "headline" in steps:
        step_headline(config, blend)


if __name__ == "__main__":
    main()
