"""EXPERIMENT: do the complexes of wide-complex tachycardia, found by their own detector, tell VF from VT?

The VF/VFL detector (`ecg.rhythm.vf`) reads about 95 % duration Se but 83 % +P on cudb: the false
time lies in stretches the annotators marked as beats (fast monomorphic or polymorphic VT and slow
wide-complex rhythm beside the VF: cu14's last 110 s, cu09, cu13 382-413 s, cu06, cu21, cu04), where
the product's R-peak detector, tuned for narrow QRS, finds about a third of the marked beats. This
finds complexes another way, on the 125 Hz window signal: the slope energy of its 2-15 Hz band,
integrated over 0.1 s, peaks at 30 % or more of its running 2.5-s maximum that stand out by half
their height, one per 0.2 s (set before looking at the data, not tuned). Per 4-s window it gives the
count of complexes, the variation of their intervals, the consistency of their shape (mean
correlation of each complex, +-0.12 s, with the window's median complex and with the next complex,
best of +-4 samples of lag), the variation of their amplitude, and the share of the window where the
envelope is under 5 % of its peak (isoelectric time). An organised rhythm repeats one complex with a
baseline between complexes; VF's undulations vary and never rest.

It checks first what the detector finds against the annotated beats in the shipped detector's false
VF time on cudb (and how many complexes it reads per second of marked VF), then scores the window
model with these inputs added, as `bench.experiments.vf_regularisation` scores the shipped one: 24
record-wise folds (one cudb record and every 24th MIT-BIH record held out), the logistic model fitted
on the rest (C = 0.001 as shipped, and 0.01 so that the new inputs can weigh), the held-out records'
windows decided as the product decides (shipped threshold and decision windows, no window across 2 s
or more without signal, no window with 30 % of its power at 12 Hz or more). The baseline row is the
shipped inputs refitted the same way in the same run. Two other uses of the inputs are scored the
same way: a second stage fitted in each fold only on the training windows the baseline reads 0.5 or
more (logistic or gradient boosting, the inputs with their 9-window means), vetoing windows where its
5-window median is under a cut, from a decided stretch's start or after its first 4 windows; and a
"monomorphic VT" veto (regular intervals and one repeated shape over 9 windows) whose bounds are chosen
on one half of the records and scored on the other (as `vf_organisation` splits them). Scores as
`bench.rhythm_eval` (EC57 overlap matching; delay to the end of the deciding windows) plus the VF
events in the other MIT-BIH records' clean sinus stretches. Threshold and cut sweeps are stored too; a
value picked from them is picked on the records scored.

    .venv/bin/python -m bench.experiments.vf_complexes

Needs the per-record product beats cached by `python -m bench.rhythm_eval`. Result:
bench/results/vf_complexes.json; what it showed: bench/README.md (rhythm analysis, VF/VFL).
"""

import json
import os
import time

import numpy as np
from scipy import signal as sps
from scipy.ndimage import maximum_filter1d, median_filter, uniform_filter1d

from bench import rhythm_eval as rhythm
from bench.common import REPO, machine, write_result
from bench.experiments.vf_organisation import counts, pooled, summary
from bench.experiments.vf_organisation import episodes as organisation_episodes
from bench.experiments.vf_regularisation import folds
from ecg.rhythm import signal_loss, vf

OUTPUT = REPO / "bench" / "results" / "vf_complexes.json"
FS = vf.FS
BAND_HZ = (2.0, 15.0)
INTEGRATION_S = 0.1
RELATIVE = 0.3  # of the running maximum of the envelope
LEVEL_S = 2.5
REFRACTORY_S = 0.2
HALF_S = 0.12  # a complex's half-width for its shape
LAG = 4  # samples of alignment tried between complexes
NAMES = ("n_complexes", "interval_cv", "shape_corr", "next_corr", "amp_cv", "quiet")
TOLERANCE_S = 0.15  # a complex within this of an annotated beat finds it
THRESHOLDS = (0.84, 0.86, 0.88, 0.9, 0.92, 0.94, 0.96)


def complexes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complex fiducials (samples of ``x``, 125 Hz) and the envelope they were found on."""
    sos = sps.butter(2, BAND_HZ, btype="bandpass", fs=FS, output="sos")
    y = sps.sosfiltfilt(sos, x)
    envelope = uniform_filter1d(np.diff(y, prepend=y[0]) ** 2, int(INTEGRATION_S * FS))
    level = uniform_filter1d(maximum_filter1d(envelope, int(LEVEL_S * FS)), int(LEVEL_S * FS))
    floor = 1e-3 * np.median(level) + 1e-12
    peaks, props = sps.find_peaks(envelope, distance=int(REFRACTORY_S * FS), prominence=0)
    keep = (envelope[peaks] >= RELATIVE * level[peaks] + floor) & (props["prominences"] >= 0.5 * envelope[peaks])
    return peaks[keep], envelope


def _unit(a: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=-1, keepdims=True)
    return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)


def window_complex_features(x: np.ndarray, n_windows: int, shape_signal: np.ndarray | None = None) -> np.ndarray:
    """Per 4-s window of the detector's grid (``NAMES``); the shape is read on ``shape_signal``
    (default ``x``). Windows with fewer than three complexes read 0 for interval and shape."""
    c, envelope = complexes(x)
    xs = x if shape_signal is None else shape_signal
    half, win = int(HALF_S * FS), vf.WINDOW_S * FS
    c = c[(c >= half + LAG) & (c < len(x) - half - LAG - 1)]
    lags = np.arange(-LAG, LAG + 1)
    idx = c[:, None, None] + lags[None, :, None] + np.arange(-half, half + 1)[None, None, :]
    seg = _unit(xs[idx])  # (complexes, lags, samples)
    core = seg[:, LAG]
    amplitude = np.ptp(x[idx[:, LAG]], axis=1) if len(c) else np.zeros(0)
    following = np.einsum("ml,mkl->mk", core[:-1], seg[1:]).max(axis=1) if len(c) > 1 else np.zeros(0)
    starts = np.arange(n_windows) * vf.STEP_S * FS
    lo, hi = np.searchsorted(c, starts), np.searchsorted(c, starts + win)
    env = np.pad(envelope, (0, max(0, int(starts[-1]) + win - len(envelope))))
    out = np.zeros((n_windows, len(NAMES)))
    for w in range(n_windows):
        a, b = lo[w], hi[w]
        e = env[starts[w] : starts[w] + win]
        quiet = float(np.mean(e < 0.05 * e.max())) if e.max() > 0 else 1.0
        if b - a >= 3:
            iv = np.diff(c[a:b]).astype(float)
            template = _unit(np.median(core[a:b], axis=0))
            out[w] = [
                b - a,
                iv.std() / iv.mean(),
                np.einsum("l,mkl->mk", template, seg[a:b]).max(axis=1).mean(),
                following[a : b - 1].mean(),
                amplitude[a:b].std() / max(amplitude[a:b].mean(), 1e-12),
                quiet,
            ]
        else:
            out[w] = [b - a, 0.0, 0.0, 0.0, 0.0, quiet]
    return out


def load() -> dict:
    out = {}
    high_pass = sps.butter(2, 8.0, btype="highpass", fs=FS, output="sos")
    for db, record, ref, prod, feats, starts, label in rhythm.vf_windows():
        span = int(vf.WINDOW_S * prod["fs"])
        lost = signal_loss.long_enough(prod["no_signal"], prod["fs"])
        x = vf._resampled(prod["values"], prod["fs"])
        out[(db, record)] = {
            "feats": feats,
            "inputs": vf.model_inputs(feats),
            "complexes": window_complex_features(x, len(starts)),
            # the shape read above 8 Hz (the complexes' sharp parts): chosen after a look at the
            # window AUCs of cudb, so an in-sample choice
            "complexes_hp8": window_complex_features(x, len(starts), sps.sosfiltfilt(high_pass, x)),
            "starts": starts,
            "label": label,
            "silent": signal_loss.overlapping(lost, starts, starts + span - 1),
            "muscle": feats[:, vf.FEATURES.index("high_fraction")] > vf.HIGH_FRACTION_MAX,
            "ref": ref,
            "n": len(prod["values"]),
            "values": prod["values"] if db == "cudb" else None,
            "r_peaks": prod["r_peaks"] if db == "cudb" else None,
            "no_signal": prod["no_signal"] if db == "cudb" else None,
            "x": x if db == "cudb" else None,
        }
        print(db, record, flush=True)
    return out


def detector_check(data: dict) -> dict:
    """Annotated beats in the shipped detector's false VF time on cudb found by these complexes and
    by the product's R-peaks, complexes there matching no beat, and complexes per second of marked VF."""
    per_record, total = {}, {"false_s": 0.0, "beats": 0, "found": 0, "product_found": 0, "extra": 0, "vf_s": 0.0}
    total["vf_complexes"] = 0
    for (db, record), rec in sorted(data.items()):
        if db != "cudb":
            continue
        ref, fs, n = rec["ref"], rec["ref"]["fs"], rec["n"]
        events = vf.vf_events(rec["values"], fs, rec["r_peaks"], rec["no_signal"])
        detected, marked = np.zeros(n, bool), np.zeros(n, bool)
        for e in events:
            detected[e.start : e.end + 1] = True
        for s, e in ref["vf"]:
            marked[s : e + 1] = True
        false = detected & ~marked
        c_s = complexes(rec["x"])[0] / FS
        at = np.minimum((c_s * fs).astype(int), n - 1)
        beats = ref["r_peaks"][false[np.minimum(ref["r_peaks"], n - 1)]] / fs
        peaks = rec["r_peaks"] / fs
        inside = c_s[false[at]]
        row = {
            "false_s": round(false.sum() / fs, 1),
            "beats": len(beats),
            "found": int(sum(np.any(np.abs(c_s - b) <= TOLERANCE_S) for b in beats)),
            "product_found": int(sum(np.any(np.abs(peaks - b) <= TOLERANCE_S) for b in beats)),
            "extra": int(sum(not np.any(np.abs(beats - t) <= TOLERANCE_S) for t in inside)),
            "vf_s": round(marked.sum() / fs, 1),
            "vf_complexes": int(marked[at].sum()),
        }
        per_record[record] = row
        for k, v in row.items():
            total[k] += v
    total = {k: round(v, 1) if isinstance(v, float) else v for k, v in total.items()}
    return {"total": total, "per_record": per_record}


def context(a: np.ndarray, w: int = 9) -> np.ndarray:
    return uniform_filter1d(a, size=w, axis=0, mode="nearest")


INPUTS = {
    "shipped inputs (baseline)": lambda r: r["inputs"],
    "+ complex inputs": lambda r: np.column_stack([r["inputs"], r["complexes"]]),
    "+ complex inputs, shape above 8 Hz": lambda r: np.column_stack([r["inputs"], r["complexes_hp8"]]),
    "+ complex inputs and their 9-window means": lambda r: np.column_stack(
        [r["inputs"], r["complexes"], context(r["complexes"])]
    ),
    "+ isoelectric share alone": lambda r: np.column_stack([r["inputs"], r["complexes"][:, NAMES.index("quiet")]]),
}


def out_of_fold(data: dict, inputs, c: float) -> dict:
    """Each record's window probabilities from the model fitted without its fold."""
    from sklearn.linear_model import LogisticRegression

    x_of = {k: inputs(data[k]) for k in data}
    probability = {}
    for held in folds(list(data)):
        train = [k for k in data if k not in held]
        keep = [(data[k]["label"] > 0.99) | (data[k]["label"] == 0) for k in train]
        x = np.concatenate([x_of[k][m] for k, m in zip(train, keep)])
        y = np.concatenate([data[k]["label"][m] > 0.5 for k, m in zip(train, keep)])
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit((x - mean) / scale, y)
        for k in held:
            p = clf.predict_proba((x_of[k] - mean) / scale)[:, 1]
            p[data[k]["silent"] | data[k]["muscle"]] = 0.0
            probability[k] = p
    return probability


def two_stage(data: dict, second_inputs, boosted: bool) -> tuple[dict, dict]:
    """Out-of-fold (first, second) stage probabilities: the first is the baseline model (shipped inputs,
    C as shipped); the second is fitted only on the training windows the first reads 0.5 or more
    (in sample), marked VF against the rest, so it learns what tells VF from what the first confuses."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    x1_of = {k: data[k]["inputs"] for k in data}
    x2_of = {k: second_inputs(data[k]) for k in data}
    first, second = {}, {}
    for held in folds(list(data)):
        train = [k for k in data if k not in held]
        keep = [(data[k]["label"] > 0.99) | (data[k]["label"] == 0) for k in train]
        x = np.concatenate([x1_of[k][m] for k, m in zip(train, keep)])
        y = np.concatenate([data[k]["label"][m] > 0.5 for k, m in zip(train, keep)])
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
        clf = LogisticRegression(C=rhythm.VF_C, class_weight="balanced", max_iter=3000).fit((x - mean) / scale, y)
        hard = clf.predict_proba((x - mean) / scale)[:, 1] >= 0.5
        x2 = np.concatenate([x2_of[k][m] for k, m in zip(train, keep)])[hard]
        y2 = y[hard]
        if boosted:
            weight = np.where(y2, 0.5 / y2.mean(), 0.5 / (1 - y2.mean()))
            model = HistGradientBoostingClassifier(
                max_iter=200, max_leaf_nodes=15, l2_regularization=1.0, random_state=0
            ).fit(x2, y2, sample_weight=weight)

            def predict(a, model=model):
                return model.predict_proba(a)[:, 1]
        else:
            m2, s2 = x2.mean(axis=0), x2.std(axis=0) + 1e-9
            model = LogisticRegression(C=0.1, class_weight="balanced", max_iter=3000).fit((x2 - m2) / s2, y2)

            def predict(a, model=model, m2=m2, s2=s2):
                return model.predict_proba((a - m2) / s2)[:, 1]

        for k in held:
            p = clf.predict_proba((x1_of[k] - mean) / scale)[:, 1]
            p[data[k]["silent"] | data[k]["muscle"]] = 0.0
            first[k], second[k] = p, predict(x2_of[k])
    return first, second


def vetoed(data: dict, first: dict, second: dict, cut: float, grace: int) -> dict:
    """Episodes of the first stage with the windows whose 5-window running median of the second stage
    is under ``cut`` left out, after a decided stretch's first ``grace`` windows."""
    part = counts(
        data,
        list(data),
        lambda k: organisation_episodes(
            data[k], first[k], median_filter(second[k], size=5, mode="nearest") < cut, grace
        ),
    )
    return summary(pooled(part))


SECOND_STAGE = {
    "shipped inputs": lambda r: np.column_stack([r["inputs"], context(r["inputs"])]),
    "shipped + complex inputs": lambda r: np.column_stack(
        [r["inputs"], r["complexes"], context(r["inputs"]), context(r["complexes"])]
    ),
}


MONOMORPHIC_GRID = {"interval_cv_max": (0.1, 0.15, 0.2), "shape_corr_min": (0.9, 0.93, 0.96), "grace": (0, 4)}


def monomorphic_veto(data: dict, probability: dict) -> dict:
    """A "monomorphic VT" veto on the baseline's out-of-fold windows: the 9-window running medians of
    the complexes' interval variation under a bound and their shape correlation over one leave the window
    out (after a decided stretch's first ``grace`` windows). The bounds are chosen on one half of the
    records (cudb and MIT-BIH sorted, alternate records) as the highest duration +P that keeps every
    episode, every onset within 10 s, no VF in clean sinus and duration Se within 2 points of that half's
    without the veto, and scored on the other half."""
    cudb = sorted(k for k in data if k[0] == "cudb")
    mitdb = sorted(k for k in data if k[0] == "mitdb")
    halves = {"A": cudb[0::2] + mitdb[0::2], "B": cudb[1::2] + mitdb[1::2]}
    icv, shape = NAMES.index("interval_cv"), NAMES.index("shape_corr")
    smooth = {
        k: (
            median_filter(r["complexes"][:, icv], 9, mode="nearest"),
            median_filter(r["complexes"][:, shape], 9, mode="nearest"),
        )
        for k, r in data.items()
    }

    def detect(k, bound, floor, grace):
        enough = median_filter(data[k]["complexes"][:, 0], 9, mode="nearest") >= 3
        veto = enough & (smooth[k][0] < bound) & (smooth[k][1] > floor)
        return organisation_episodes(data[k], probability[k], veto, grace)

    grid = [
        (b, f, g)
        for b in MONOMORPHIC_GRID["interval_cv_max"]
        for f in MONOMORPHIC_GRID["shape_corr_min"]
        for g in MONOMORPHIC_GRID["grace"]
    ]
    out: dict = {}
    parts = {}
    for fit, score in (("A", "B"), ("B", "A")):
        best, best_ppv = None, -1.0
        plain = summary(counts(data, halves[fit], lambda k: organisation_episodes(data[k], probability[k])))
        for b, f, g in grid:
            s = summary(counts(data, halves[fit], lambda k, b=b, f=f, g=g: detect(k, b, f, g)))
            ok = (
                s["later_than_10_s_or_missed"] == 0
                and s["episodes_found"].split("/")[0] == s["episodes_found"].split("/")[1]
                and s["duration_se"] >= plain["duration_se"] - 2
                and s["mitdb_other_clean_sinus"] == 0
            )
            if ok and s["duration_ppv"] > best_ppv:
                best, best_ppv = (b, f, g), s["duration_ppv"]
        if best is None:
            out[f"chosen on {fit}"] = None
            continue
        parts[score] = counts(data, halves[score], lambda k, best=best: detect(k, *best))
        out[f"chosen on {fit}"] = dict(zip(("interval_cv_max", "shape_corr_min", "grace"), best)) | {
            "fitted half": summary(counts(data, halves[fit], lambda k, best=best: detect(k, *best)))
        }
        out[f"{score} (chosen on the other half)"] = summary(parts[score])
    if len(parts) == 2:
        out["both halves held out"] = summary(pooled(*parts.values()))
        # the same halves without the veto, for comparison
        out["baseline, both halves"] = summary(
            pooled(
                *(
                    counts(data, keys, lambda k: organisation_episodes(data[k], probability[k]))
                    for keys in halves.values()
                )
            )
        )
    out["grid on every record (in sample)"] = {
        f"icv<{b} shape>{f} grace {g}": summary(counts(data, list(data), lambda k, b=b, f=f, g=g: detect(k, b, f, g)))
        for b, f, g in grid
    }
    return out


def scored(data: dict, probability: dict, threshold: float) -> dict:
    saved = vf.THRESHOLD
    vf.THRESHOLD = threshold
    try:
        part = counts(
            data,
            list(data),
            lambda k: vf.episodes(probability[k], data[k]["starts"], data[k]["ref"]["fs"], data[k]["n"]),
        )
    finally:
        vf.THRESHOLD = saved
    return summary(pooled(part))


def main() -> None:
    load_before = os.getloadavg()
    started = time.perf_counter()
    data = load()
    check = detector_check(data)
    print(check["total"], flush=True)
    variants, sweeps = {}, {}
    shipped = {}
    for k, rec in data.items():
        p = vf.vf_probability(rec["feats"])
        p[rec["silent"]] = 0.0
        shipped[k] = p
    variants["shipped constants (fitted on every record: in sample)"] = scored(data, shipped, vf.THRESHOLD)
    baseline = {}
    for c in (rhythm.VF_C, 0.01):
        for name, inputs in INPUTS.items():
            probability = out_of_fold(data, inputs, c)
            if c == rhythm.VF_C and name == "shipped inputs (baseline)":
                baseline = probability
            label = f"{name}, C = {c}"
            variants[label] = scored(data, probability, vf.THRESHOLD)
            sweeps[label] = {str(t): scored(data, probability, t) for t in THRESHOLDS}
            print(label, variants[label], flush=True)
    # Second stage on the first's likely-VF windows, as a veto (inputs with their 9-window means);
    # the row at cut 0.5, the sweep over cuts.
    for boosted in (False, True):
        for name, inputs in SECOND_STAGE.items():
            first, second = two_stage(data, inputs, boosted)
            model = "gradient boosting" if boosted else "logistic C = 0.1"
            for grace in (0, vf.DECISION_WINDOWS):
                label = f"second stage ({model}) on {name}, veto where the 5-window median < cut after {grace} windows"
                variants[label] = vetoed(data, first, second, 0.5, grace)
                sweeps[label] = {str(cut): vetoed(data, first, second, cut, grace) for cut in (0.3, 0.5, 0.7)}
                print(label, variants[label], flush=True)
    monomorphic = monomorphic_veto(data, baseline)
    print(json.dumps({k: v for k, v in monomorphic.items() if not k.startswith("grid")}), flush=True)
    write_result(
        OUTPUT,
        {
            "command": "python -m bench.experiments.vf_complexes",
            "detector": {
                "band_hz": BAND_HZ,
                "integration_s": INTEGRATION_S,
                "relative": RELATIVE,
                "level_s": LEVEL_S,
                "refractory_s": REFRACTORY_S,
                "half_s": HALF_S,
                "lag": LAG,
            },
            "detector_check_cudb": check,
            "threshold": vf.THRESHOLD,
            "decision_windows": vf.DECISION_WINDOWS,
            "folds": [[f"{db}/{r}" for db, r in f] for f in folds(list(data))],
            "variants": variants,
            "threshold_sweeps": sweeps,
            "monomorphic_veto": monomorphic,
            "seconds": round(time.perf_counter() - started, 1),
            "machine": machine(load_before),
        },
    )


if __name__ == "__main__":
    main()
