import numpy as np
import pytest

from ecg.processing import families
from ecg.processing.families import UNGROUPED, beat_families

FS = 128.0
R = 44  # the R-peak's index in each window
WINDOW = 108


def _beat(shape: str, rng: np.random.Generator, noise: float = 0.02) -> np.ndarray:
    """One window of two leads: a narrow upright QRS ('narrow'), a wide inverted one ('wide') or a
    biphasic one ('biphasic'), with a little noise."""
    t = (np.arange(WINDOW) - R) / FS
    if shape == "narrow":
        lead = np.exp(-((t / 0.012) ** 2))
    elif shape == "wide":
        lead = -np.exp(-((t / 0.05) ** 2))
    else:
        lead = np.exp(-(((t + 0.02) / 0.012) ** 2)) - np.exp(-(((t - 0.03) / 0.012) ** 2))
    both = np.stack([lead, 0.5 * lead], axis=1)
    return both + noise * rng.standard_normal(both.shape)


def _record(shapes: list[str], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([_beat(s, rng) for s in shapes]).astype(np.float32)


def test_two_shapes_of_one_class_are_two_families_largest_first():
    shapes = ["narrow"] * 30 + ["wide"] * 50 + ["narrow"] * 10
    found = beat_families(_record(shapes), ["V"] * len(shapes), r_index=R, fs=FS)
    assert [(f.aami_class, f.beats, f.rare) for f in found.families] == [("V", 50, False), ("V", 40, False)]
    wide, narrow = found.families
    assert set(found.of_beat[30:80]) == {wide.number} and set(found.of_beat[:30]) | set(found.of_beat[80:]) == {
        narrow.number
    }
    assert found.of_beat[wide.example] == wide.number and found.of_beat[narrow.example] == narrow.number
    assert wide.template.shape == (WINDOW, 2) and wide.template[R, 0] < -0.8 < 0.8 < narrow.template[R, 0]


def test_a_family_is_of_one_class_and_classes_come_in_aami_order():
    shapes = ["narrow"] * 40
    classes = ["V"] * 10 + ["N"] * 30
    found = beat_families(_record(shapes), classes, r_index=R, fs=FS)
    assert [(f.number, f.aami_class, f.beats) for f in found.families] == [(0, "N", 30), (1, "V", 10)]
    assert set(found.of_beat[:10]) == {1} and set(found.of_beat[10:]) == {0}


def test_rarer_shapes_are_gathered_into_one_family_marked_rare():
    shapes = ["narrow"] * 20 + ["wide"] * 10 + ["biphasic"] * 2
    found = beat_families(_record(shapes), ["N"] * len(shapes), r_index=R, fs=FS, max_per_class=1)
    assert [(f.beats, f.rare) for f in found.families] == [(20, False), (12, True)]
    # a shape with fewer than MIN_BEATS beats is rare however few families the class has
    found = beat_families(_record(shapes), ["N"] * len(shapes), r_index=R, fs=FS)
    assert [(f.beats, f.rare) for f in found.families] == [(20, False), (10, False), (2, True)]
    assert found.of_beat[-1] == found.of_beat[-2] == 2


def test_families_past_the_growing_bound_go_to_the_rare_family():
    shapes = ["narrow"] * 5 + ["wide"] * 5 + ["biphasic"] * 5
    found = beat_families(_record(shapes), ["S"] * 15, r_index=R, fs=FS, max_growing=2)
    assert [(f.beats, f.rare) for f in found.families] == [(5, False), (5, False), (5, True)]
    assert set(found.of_beat[10:]) == {2}


def test_the_same_beats_always_give_the_same_families(monkeypatch):
    rng = np.random.default_rng(3)
    shapes = list(rng.choice(["narrow", "wide", "biphasic"], 300))
    windows, classes = _record(shapes, seed=4), list(rng.choice(["N", "V"], 300))
    first = beat_families(windows, classes, r_index=R, fs=FS)
    # chunks of any size group alike: the families do not depend on where a chunk ends
    monkeypatch.setattr(families, "CHUNK", 7)
    second = beat_families(windows, classes, r_index=R, fs=FS)
    assert np.array_equal(first.of_beat, second.of_beat)
    assert [(f.aami_class, f.beats, f.example) for f in first.families] == [
        (f.aami_class, f.beats, f.example) for f in second.families
    ]


def test_channels_pick_the_leads_and_other_letters_are_ungrouped():
    windows = np.concatenate([_record(["narrow"] * 6), np.zeros((6, WINDOW, 2), np.float32)], axis=2)
    found = beat_families(windows, ["N"] * 5 + ["X"], r_index=R, fs=FS, channels=(0, 1))
    assert found.of_beat[-1] == UNGROUPED and found.families[0].template.shape == (WINDOW, 2)
    with pytest.raises(ValueError, match="6 windows but 5 classes"):
        beat_families(windows, ["N"] * 5, r_index=R, fs=FS)


def test_a_flat_beat_is_grouped_without_dividing_by_zero():
    windows = np.zeros((4, WINDOW, 2), np.float32)
    found = beat_families(windows, ["Q"] * 4, r_index=R, fs=FS)
    assert np.all(np.isfinite(found.families[-1].template)) and sum(f.beats for f in found.families) == 4
