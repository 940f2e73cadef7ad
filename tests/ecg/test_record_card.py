"""The record-level classifier's card: its targets table, the roofline row and what was tried."""

import json
from pathlib import Path

from ecg.training.record_card import render_markdown, roofline_check, steps

CARD = Path(__file__).resolve().parents[2] / "mlmodels" / "artifacts" / "heartbeat_record-2026.12-ctx4.json"


def test_the_roofline_target_is_checked_from_the_bench_result():
    (missed,) = roofline_check({"roofline_fraction_median": 0.215, "target": 0.6}, "wider layers")
    assert (missed["met"], missed["short_by"], missed["what_was_tried"]) == (False, 0.385, "wider layers")
    (met,) = roofline_check({"roofline_fraction_median": 0.65}, "wider layers")
    assert (met["met"], met["required"], met["what_was_tried"]) == (True, ">= 0.60", None)
    assert roofline_check(None, "wider layers") == []


def test_the_roofline_row_names_the_matmul_rate_it_was_read_against():
    rounds = [{"matmul_gflop_per_cpu_s": g} for g in (104.2, 110.1, 111.2)]
    (row,) = roofline_check({"roofline_fraction_median": 0.698, "rounds": rounds}, "wider layers")
    assert row["roofline_gflop_per_cpu_s"] == 110.1
    card = json.loads(CARD.read_text())
    card["targets"] = [row]
    assert "| >= 0.60 | 69.8 % (against a matmul of 110 GFLOP per CPU-second) | yes |" in render_markdown(card)
    (row,) = roofline_check({"roofline_fraction_median": 0.698}, "wider layers")  # an older result: no rate
    card["targets"] = [row]
    assert "| >= 0.60 | 69.8 % | yes |" in render_markdown(card)


def test_the_roofline_row_says_how_the_share_splits_between_network_and_trees():
    result = {
        "roofline_fraction_median": 0.243,
        "network_roofline_fraction_median": 0.573,
        "network_cpu_us_per_beat_median": 18.8,
        "trees_cpu_us_per_beat_median": 24.7,
    }
    (row,) = roofline_check(result, "wider layers")
    assert row["what_was_tried"] == (
        "in the same rounds the network alone reads 57.3 % of the roofline, and the trees take 24.7 us of CPU "
        "per beat against the network's 18.8; wider layers"
    )
    # a result from before the split was measured: the attempts alone
    (row,) = roofline_check({"roofline_fraction_median": 0.25, "trees_cpu_us_per_beat_median": 24.7}, "wider layers")
    assert row["what_was_tried"] == "wider layers"


def test_the_card_shows_each_missed_targets_attempts_and_always_the_history():
    card = json.loads(CARD.read_text())
    classification = [
        dict(c, met=True, short_by=None, what_was_tried=None) for c in card["targets"] if "roofline" not in c["target"]
    ]
    history_row = card["history"][0]["inputs"]
    # every classification target met, the roofline missed: its own attempts, then the history
    card["targets"] = classification + roofline_check({"roofline_fraction_median": 0.215}, "a fused kernel")
    md = render_markdown(card)
    assert "| no, short by 38.5 points |" in md
    assert "What was tried for beats per CPU-second at batch 1024, share of the matmul roofline" in md
    assert "a fused kernel" in md
    assert "What was tried on the way to the classification targets:" in md and history_row in md
    assert "What was tried for the missed targets" not in md
    # a classification target missed: the same text, headed as what was tried for the missed targets
    card["targets"][0] = dict(card["targets"][0], met=False, short_by=0.01, what_was_tried=card["what_was_tried"])
    md = render_markdown(card)
    assert "What was tried for the missed targets:" in md and history_row in md
    tried = steps(card["what_was_tried"])
    assert len(tried) > 10 and all(md.count(f"\n- {step}\n") == 1 for step in tried)  # one attempt per line


def test_what_was_tried_splits_at_semicolons_outside_parentheses():
    assert steps("a (x; y); b; c (z)") == ["a (x; y)", "b", "c (z)"]


def test_every_attempt_text_of_the_card_nests_its_brackets():
    """The card lists one attempt per line by splitting at semicolons outside brackets: a stray
    bracket would run the rest of the text into one line."""
    card = json.loads(CARD.read_text())
    texts = [card["what_was_tried"]] + [t["what_was_tried"] for t in card["targets"] if t.get("what_was_tried")]
    for text in texts:
        depth = 0
        for ch in text:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            assert depth >= 0, text[:80]
        assert depth == 0, text[:80]
