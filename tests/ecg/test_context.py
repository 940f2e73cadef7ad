"""The record-level model's inputs: one row per R-peak, relative to the patient's own rhythm and beat."""

import numpy as np
import pytest

from ecg.processing import context
from ecg.processing.context import FEATURES, analyse, other_lead, record_context, rhythm_features
from ecg.training.record import build_record

from ..data import DATA_DIR, mitdb_dir, require, svdb_dir

F = {name: i for i, name in enumerate(FEATURES)}


def _regular_peaks(n=60, rr=288, premature=30):
    peaks = np.arange(n) * rr + 500
    peaks[premature] -= 100  # one beat 100 samples (0.28 s at 360 Hz) early
    return peaks


def test_a_premature_beat_is_early_against_the_patients_own_rhythm():
    feats = rhythm_features(_regular_peaks(), 360.0)
    assert feats[30, F["pre_local"]] < 0.7 < 0.95 < feats[29, F["pre_local"]]
    assert feats[30, F["post_local"]] > 1.2  # the pause after it
    assert feats[30, F["pre_wide_median"]] == pytest.approx(188 / 288, abs=0.01)
    assert feats[31, F["prev_pre_local"]] == feats[30, F["pre_local"]]
    assert feats[10, F["wide_irregularity"]] < 0.05


def test_atrial_fibrillation_reads_as_irregular_and_bigeminy_as_patterned():
    rng = np.random.default_rng(0)
    af = np.cumsum(rng.uniform(150, 400, 120)).astype(np.int64)
    bigeminy = np.cumsum(np.tile([200, 380], 60)).astype(np.int64)
    af_feats, big_feats = rhythm_features(af, 360.0), rhythm_features(bigeminy, 360.0)
    assert af_feats[60, F["wide_irregularity"]] > 0.3
    assert af_feats[60, F["wide_lag2_irregularity"]] > 0.15
    assert big_feats[60, F["wide_lag2_irregularity"]] < 0.05


def test_every_peak_gets_a_row_the_first_and_last_included():
    x = np.zeros(360 * 20)
    peaks = np.arange(5, 7195, 300)
    x[peaks] = 1.0
    ctx = record_context([x], 360.0, peaks)
    assert ctx.morphology.shape == (len(peaks), context.WINDOW, context.MORPH_CHANNELS)
    assert ctx.features.shape == (len(peaks), context.N_FEATURES)
    assert np.isfinite(ctx.features).all() and np.isfinite(ctx.morphology).all()
    assert (ctx.features[:, F["second_lead"]] == 0).all() and not ctx.morphology[:, :, 2:].any()


def test_a_single_peak_or_none_still_gives_finite_rows():
    assert record_context([np.zeros(1000)], 250.0, np.array([], dtype=np.int64)).features.shape == (
        0,
        context.N_FEATURES,
    )
    one = record_context([np.random.default_rng(1).normal(size=1000)], 250.0, np.array([500]))
    assert np.isfinite(one.features).all()


def test_other_lead_skips_flat_and_broken_leads():
    good = np.sin(np.arange(100.0))
    assert other_lead({"II": good, "V1": np.zeros(100), "V2": good.copy()}, "II") is not None
    assert other_lead({"II": good, "V1": np.zeros(100)}, "II") is None
    assert other_lead({"II": good, "V1": np.full(100, np.nan)}, "II") is None


def test_a_mitbih_record_is_read_with_both_leads_and_labelled_beats():
    data = build_record(mitdb_dir() / "119")
    assert data.fs == 360.0
    counts = np.bincount(data.labels[data.labels >= 0], minlength=5)
    assert counts[0] > 1500 and counts[2] > 400  # record 119: ~1,540 N and 444 V beats
    assert (data.features[:, F["second_lead"]] == 1).all()
    assert data.missed.sum() < 5


def test_analyse_keeps_every_detected_beat_at_128_hz(tmp_path):
    import wfdb

    rec = wfdb.rdrecord(str(svdb_dir() / "800"))
    values = np.nan_to_num(rec.p_signal[:, 0])
    beats, ctx = analyse(values, rec.fs, np.nan_to_num(rec.p_signal[:, 1]))
    assert len(beats) == len(ctx.r_peaks) == len(ctx.features) > 1500
    assert ctx.r_peaks[-1] > len(values) - 2 * rec.fs  # the last beat is kept


def test_a_resampled_training_copy_keeps_its_beats_and_labels():
    clean = build_record(mitdb_dir() / "119")
    copy = build_record(mitdb_dir() / "119", variant="rate")
    assert copy.fs in (128.0, 250.0, 500.0)  # another rate a clinic sends, never the record's own 360
    for data in (clean, copy):
        counts = np.bincount(data.labels[data.labels >= 0], minlength=5)
        assert counts[2] > 400 and data.missed.sum() < 10
    assert abs(len(copy.labels) - len(clean.labels)) < 10


def test_a_noisy_training_copy_carries_real_noise_at_the_asked_level():
    import wfdb

    from ecg.training.record import SNR_DB, augment

    nstdb = require(DATA_DIR / "nstdb" / "noise_only", "Noise Stress Test Database noise records")
    rec = wfdb.rdrecord(str(mitdb_dir() / "119"), sampto=360 * 120)
    ann = wfdb.rdann(str(mitdb_dir() / "119"), "atr", sampto=360 * 120)
    signal = np.nan_to_num(rec.p_signal)
    noisy, fs, ref = augment(signal, 360.0, np.asarray(ann.sample), "noise", seed=3, noise_dir=nstdb)
    assert fs == 360.0 and (ref == ann.sample).all() and noisy.shape == signal.shape
    gain = (noisy * signal).sum(axis=0) / (signal * signal).sum(axis=0)
    added = noisy - signal * gain  # what is left once the gain-changed signal is taken away
    assert (np.std(added, axis=0) > 0.01).all()  # something real was added to both leads
    assert not np.allclose(augment(signal, 360.0, ann.sample, "noise", seed=4, noise_dir=nstdb)[0], noisy)
    assert SNR_DB[0] >= 0  # never noise louder than the QRS


def test_a_holter_length_signal_is_cleaned_in_pieces_as_if_whole():
    from scipy import signal as sps

    rng = np.random.default_rng(0)
    n = context.CLEAN_CHUNK * 2 + 12_345  # three pieces, the last one short
    t = np.arange(n) / context.CONTEXT_FS
    x = np.sin(2 * np.pi * 1.2 * t) + 0.5 * np.sin(2 * np.pi * 0.05 * t) + 0.1 * rng.standard_normal(n) + 3.0
    sos = sps.butter(2, context.FILTER_HZ, btype="bandpass", fs=context.CONTEXT_FS, output="sos")
    whole = sps.sosfiltfilt(sos, x - np.median(x))
    pieces = context.clean(x.astype(np.float32))
    assert pieces.dtype == np.float32 and len(pieces) == n
    np.testing.assert_allclose(pieces, whole, atol=1e-4)
    assert np.abs(whole).max() > 0.5  # the test signal is not filtered away


@pytest.mark.parametrize("held_at", ["minimum", "baseline"])
def test_no_beat_is_found_in_or_at_the_steps_of_a_stretch_without_signal(held_at):
    # MIT-BIH 100's first 3 minutes with both leads held for 6 s (a lead off; the amplifier at its lowest
    # value): the steps into and out of it read as QRS complexes, and a beat there, after the gap, made
    # the rest of the record an S run
    import wfdb

    signal = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=360 * 180).p_signal
    a, b = 60 * 360, 66 * 360
    signal[a:b] = signal.min(axis=0) if held_at == "minimum" else signal[a]
    _, ctx = analyse(signal[:, 0], 360.0, signal[:, 1])
    peaks_s = ctx.r_peaks / 360.0
    assert not ((peaks_s > 59.0) & (peaks_s < 67.0)).any()
    assert ((peaks_s > 67.0) & (peaks_s < 70.0)).sum() >= 3  # the beats after it are found
    reference = wfdb.rdann(str(mitdb_dir() / "100"), "atr", sampto=360 * 180).sample / 360.0
    kept = reference[(reference < 59.0) | (reference > 67.0)]
    assert abs(len(ctx.r_peaks) - len(kept)) <= 3
