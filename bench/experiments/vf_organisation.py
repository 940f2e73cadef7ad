"""EXPERIMENT: can the organisation of the waveform tell the marked VF/VFL from its neighbours?

The VF/VFL detector (`ecg.rhythm.vf`) reaches 96.1 % duration Se but 83.4 % +P on cudb: the false
time is in stretches the annotators did not bracket but marked beats in (cu14's last 116 s, cu09's
last 54 s, cu06 375-415 s, cu13 382-413 s, ...), fast monomorphic or slow wide-complex, polymorphic
ventricular rhythm. An organised ventricular rhythm repeats a sharp complex, so its spectrum carries
power at the harmonics of its rate; VF and flutter are near-sinusoidal undulations with their power
at the fundamental. This measures that (``harmonic ratio``: power within 0.5 Hz of the second and
third harmonics of the 1-10 Hz dominant frequency over the power within 0.5 Hz of it, per 4-s
window) and tries it every way that seemed reasonable:

- as a 13th input of the logistic window model (refitted as `rhythm_eval --fit-vf` does);
- as a veto on the decided windows: the running median of the ratio over ``W`` windows above a
  cut-off removes the window, either anywhere or only after the first ``grace`` windows of a
  decided stretch (so onsets keep their timing: an episode can only end sooner);
- as an "organised rhythm" veto: ratio above the cut-off and either a slow dominant frequency
  (<= 2.5 Hz, <= 150 /min) or a repeating waveform (window periodicity >= 0.7, monomorphic VT);
- a gradient-boosted window model over the inputs, the ratio and their 9- and 21-window means.

Everything fitted or chosen is checked record-wise: the records are split in two halves (cudb and
MIT-BIH sorted, alternate records), a model is fitted on one half and scored on the other, and the
hand-set vetoes are scored on each half separately. Scores as `bench.rhythm_eval` (EC57 overlap
matching; delay to the end of the deciding windows) plus the VF events on the other MIT-BIH records.

    .venv/bin/python -m bench.experiments.vf_organisation

Needs the per-record product beats cached by `python -m bench.rhythm_eval`. Result:
bench/results/vf_organisation.json. None of this shipped: see bench/README.md (rhythm analysis).
"""

import time

import numpy as np
from scipy.ndimage import median_filter, uniform_filter1d

from bench import rhythm_eval as rhythm
from bench.common import REPO, machine, write_result
from ecg.rhythm import vf

OUTPUT = REPO / "bench" / "results" / "vf_organisation.json"
HALF_WIDTH_HZ = 0.5


def harmonic_ratio(values: np.ndarray, fs: float, n_windows: int) -> np.ndarray:
    """Per 4-s window (the detector's grid): power at the 2nd and 3rd harmonics over the fundamental."""
    x = vf._resampled(values, fs)
    win = vf.WINDOW_S * vf.FS
    starts = np.arange(n_windows) * vf.STEP_S * vf.FS
    x = np.pad(x, (0, max(0, int(starts[-1]) + win - len(x))))
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[starts]
    spectrum = np.abs(np.fft.rfft(frames * np.hamming(win), axis=1)) ** 2
    freqs = np.fft.rfftfreq(win, 1.0 / vf.FS)
    search = (freqs >= 1.0) & (freqs <= 10.0)
    peak_hz = freqs[search][np.argmax(spectrum[:, search], axis=1)]
    cumulative = np.concatenate([np.zeros((len(frames), 1)), np.cumsum(spectrum, axis=1)], axis=1)
    rows = np.arange(len(frames))

    def around(hz: np.ndarray) -> np.ndarray:
        lo = np.minimum(np.searchsorted(freqs, hz - HALF_WIDTH_HZ, side="left"), len(freqs))
        hi = np.minimum(np.searchsorted(freqs, hz + HALF_WIDTH_HZ, side="right"), len(freqs))
        return cumulative[rows, hi] - cumulative[rows, lo]

    return (around(2 * peak_hz) + around(3 * peak_hz)) / np.maximum(around(peak_hz), 1e-12)


def load() -> dict:
    out = {}
    for db, record, ref, prod, feats, starts, label in rhythm.vf_windows():
        out[(db, record)] = {
            "feats": feats,
            "starts": starts,
            "label": label,
            "harmonics": harmonic_ratio(prod["values"], prod["fs"], len(starts)),
            "ref": ref,
            "n": len(prod["values"]),
        }
        print(db, record, flush=True)
    return out


def episodes(rec: dict, probability: np.ndarray, veto=None, grace: int = 0, threshold=None) -> list:
    """Episodes as `vf.vf_events` forms them, with an optional veto of windows after ``grace``."""
    fs, starts, n = rec["ref"]["fs"], rec["starts"], rec["n"]
    centre, span = round((vf.WINDOW_S - vf.STEP_S) / 2 * fs), round(vf.WINDOW_S * fs)
    saved = vf.THRESHOLD
    vf.THRESHOLD = saved if threshold is None else threshold
    try:
        decided = vf.decided_windows(probability)
    finally:
        vf.THRESHOLD = saved
    out: list[list[int]] = []
    for first, last in decided:
        keep = np.ones(last - first + 1, bool)
        if veto is not None:
            keep[grace:] = ~veto[first + grace : last + 1]
        edges = np.diff(np.concatenate([[0], keep.astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1):
            s, e = int(starts[first + a]) + centre, min(int(starts[first + b]) + span - centre, n) - 1
            if out and (s - out[-1][1]) / fs <= vf.MERGE_GAP_S:
                out[-1][1] = e
            else:
                out.append([s, e])
    return [(s, e) for s, e in out]


def counts(data: dict, keys: list, detect) -> dict:
    """Summed cudb counts, delays and other-MIT-BIH VF events for ``detect(key) -> episodes``."""
    total: dict = {"delays": [], "mitdb_other_events": 0, "mitdb_other_clean_sinus": 0}
    lag = vf.WINDOW_S + (vf.DECISION_WINDOWS - 1) * vf.STEP_S - (vf.WINDOW_S - vf.STEP_S) / 2
    for key in keys:
        ref, found = data[key]["ref"], detect(key)
        if key[0] == "cudb":
            rhythm._add(total, rhythm.episode_match(ref["vf"], found))
            for s, e in ref["vf"]:
                hits = [t[0] for t in found if rhythm._overlap((s, e), t)]
                total["delays"].append(round(max(0, min(hits) + lag * ref["fs"] - s) / ref["fs"], 1) if hits else None)
        elif key[1] != "207":
            total["mitdb_other_events"] += len(found)
            total["mitdb_other_clean_sinus"] += sum(1 for t in found if rhythm.clean_sinus(ref, *t))
    return total


def summary(c: dict) -> dict:
    rates = rhythm._rates(c)
    found = [d for d in c["delays"] if d is not None]
    return {
        "episodes_found": f"{c['ref_detected']}/{c['ref']}",
        "episode_ppv": rates["episode_ppv"],
        "duration_se": rates["duration_se"],
        "duration_ppv": rates["duration_ppv"],
        "delay_max_s": max(found) if found else None,
        "later_than_10_s_or_missed": sum(1 for d in c["delays"] if d is None or d > 10),
        "mitdb_other_events": c["mitdb_other_events"],
        "mitdb_other_clean_sinus": c["mitdb_other_clean_sinus"],
    }


def pooled(*parts: dict) -> dict:
    total: dict = {"delays": [], "mitdb_other_events": 0, "mitdb_other_clean_sinus": 0}
    for p in parts:
        total["delays"] += p["delays"]
        rhythm._add(total, {k: v for k, v in p.items() if k != "delays"})
    return total


def _labelled_windows(data, keys, inputs):
    """Window inputs and VF labels of ``keys``' records, windows wholly inside or outside VF only."""
    xs, ys = [], []
    for k in keys:
        keep = (data[k]["label"] > 0.99) | (data[k]["label"] == 0)
        xs.append(inputs(data[k])[keep])
        ys.append(data[k]["label"][keep] > 0.5)
    return np.concatenate(xs), np.concatenate(ys)


def _logistic(data, keys, with_ratio: bool):
    from sklearn.linear_model import LogisticRegression

    def inputs(rec):
        x = vf.model_inputs(rec["feats"])
        return np.column_stack([x, np.log(rec["harmonics"] + 0.01)]) if with_ratio else x

    x, y = _labelled_windows(data, keys, inputs)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000).fit((x - mean) / scale, y)
    return lambda rec: clf.predict_proba((inputs(rec) - mean) / scale)[:, 1]


def _boosted(data, keys):
    from sklearn.ensemble import HistGradientBoostingClassifier

    def inputs(rec):
        base = np.column_stack([vf.model_inputs(rec["feats"]), np.log(rec["harmonics"] + 0.01)])
        return np.column_stack([base] + [uniform_filter1d(base, size=w, axis=0, mode="nearest") for w in (9, 21)])

    x, y = _labelled_windows(data, keys, inputs)
    weight = np.where(y, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    clf = HistGradientBoostingClassifier(max_iter=200, max_leaf_nodes=15, l2_regularization=1.0, random_state=0)
    clf.fit(x, y, sample_weight=weight)
    return lambda rec: clf.predict_proba(inputs(rec))[:, 1]


def main() -> None:
    import os

    load_before = os.getloadavg()
    started = time.perf_counter()
    data = load()
    cudb = sorted(k for k in data if k[0] == "cudb")
    mitdb = sorted(k for k in data if k[0] == "mitdb")
    halves = {"A": cudb[0::2] + mitdb[0::2], "B": cudb[1::2] + mitdb[1::2]}
    shipped = {k: vf.vf_probability(data[k]["feats"]) for k in data}

    def median(k, column=None, values=None, w=15):
        v = data[k]["feats"][:, column] if values is None else values
        return median_filter(v, size=w, mode="nearest")

    def by_half(detect) -> dict:
        parts = {h: counts(data, keys, detect) for h, keys in halves.items()}
        return {h: summary(c) for h, c in parts.items()} | {"all": summary(pooled(*parts.values()))}

    variants: dict = {"shipped": by_half(lambda k: episodes(data[k], shipped[k]))}
    for w, cut, grace in [(15, 0.2, 0), (15, 0.3, 0), (15, 0.4, 0), (15, 0.25, 8), (15, 0.3, 8), (21, 0.3, 8)]:
        variants[f"harmonic veto W={w} cut={cut} grace={grace}"] = by_half(
            lambda k, w=w, cut=cut, grace=grace: episodes(
                data[k], shipped[k], median(k, values=data[k]["harmonics"], w=w) > cut, grace
            )
        )
    for w, cut, grace in [(15, 0.2, 0), (21, 0.2, 0), (21, 0.25, 0), (15, 0.2, 6), (21, 0.25, 6)]:

        def organised(k, w=w, cut=cut):
            ratio = median(k, values=data[k]["harmonics"], w=w)
            slow = median(k, column=vf.FEATURES.index("peak_hz"), w=w) <= 2.5
            repeating = median(k, column=vf.FEATURES.index("periodicity"), w=w) >= 0.7
            return (ratio > cut) & (slow | repeating)

        variants[f"organised-rhythm veto W={w} cut={cut} grace={grace}"] = by_half(
            lambda k, organised=organised, grace=grace: episodes(data[k], shipped[k], organised(k), grace)
        )
    variants["monomorphic-VT veto W=9 cut=0.25 periodicity>=0.7"] = by_half(
        lambda k: episodes(
            data[k],
            shipped[k],
            (median(k, values=data[k]["harmonics"], w=9) > 0.25)
            & (median(k, column=vf.FEATURES.index("periodicity"), w=9) >= 0.7),
        )
    )
    fitted = {
        "logistic refit, shipped inputs": lambda keys: _logistic(data, keys, False),
        "logistic refit + harmonic ratio": lambda keys: _logistic(data, keys, True),
        "gradient boosting + ratio + 9/21-window means": lambda keys: _boosted(data, keys),
    }
    for name, make in fitted.items():
        models = {h: make(keys) for h, keys in halves.items()}
        for threshold in (0.94, 0.97) if name.startswith("gradient") else (None,):
            # Fitted on one half, scored on the other.
            parts = {
                h: counts(data, halves[h], lambda k, m=models[o]: episodes(data[k], m(data[k]), threshold=threshold))
                for h, o in (("A", "B"), ("B", "A"))
            }
            label = name if threshold is None else f"{name}, threshold {threshold}"
            variants[label] = {f"{h} (fitted on the other half)": summary(c) for h, c in parts.items()} | {
                "both halves held out": summary(pooled(*parts.values()))
            }
    write_result(
        OUTPUT,
        {
            "command": "python -m bench.experiments.vf_organisation",
            "halves": {h: [f"{db}/{r}" for db, r in keys] for h, keys in halves.items()},
            "variants": variants,
            "seconds": round(time.perf_counter() - started, 1),
            "machine": machine(load_before),
        },
    )


if __name__ == "__main__":
    main()
