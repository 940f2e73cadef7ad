"""VF/VFL organisation experiment (bench.experiments.vf_organisation): synthetic signals, no data."""

import numpy as np

from bench.experiments.vf_organisation import episodes, harmonic_ratio
from ecg.rhythm import vf

FS = 250.0


def test_a_sine_wave_has_no_harmonics_and_a_train_of_sharp_complexes_has_many():
    t = np.arange(int(30 * FS)) / FS
    n_windows = 20
    sine = np.sin(2 * np.pi * 4.0 * t)
    complexes = np.zeros_like(t)
    for beat in np.arange(0.2, 30, 0.4):  # 150 /min, each a 120-ms wide complex on a flat baseline
        complexes += np.exp(-(((t - beat) / 0.04) ** 2))
    assert np.median(harmonic_ratio(sine, FS, n_windows)) < 0.05
    assert np.median(harmonic_ratio(complexes, FS, n_windows)) > 0.5


def test_a_veto_after_the_grace_windows_ends_an_episode_sooner_but_keeps_its_onset():
    n_windows = 60
    rec = {
        "ref": {"fs": FS},
        "starts": np.arange(n_windows) * int(vf.STEP_S * FS),
        "n": int((n_windows + vf.WINDOW_S) * FS),
    }
    probability = np.where((np.arange(n_windows) >= 10) & (np.arange(n_windows) < 50), 0.99, 0.01)
    veto = np.zeros(n_windows, bool)
    veto[30:] = True
    (whole,) = episodes(rec, probability)
    (shortened,) = episodes(rec, probability, veto, grace=8)
    assert shortened[0] == whole[0]
    assert shortened[1] < whole[1]
    assert episodes(rec, probability, np.ones(n_windows, bool), grace=0) == []
