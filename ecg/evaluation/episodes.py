"""EC57-style episode matching: a reference episode is detected when a detected one overlaps it, a
detected episode is true when it overlaps a reference one; durations by the samples both hold."""

from __future__ import annotations

from typing import Any


def overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]) + 1)


def union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` (inclusive) merged where they share samples: two pauses that share a beat share its sample."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def episode_match(ref: list[tuple[int, int]], test: list[tuple[int, int]]) -> dict[str, int]:
    """Episode and duration counts: reference episodes overlapped, test episodes overlapping, and the
    samples of each side and of both, every sample counted once (so duration Se and +P stay <= 100 %)."""
    ref_hit = sum(1 for r in ref if any(overlap(r, t) for t in test))
    test_hit = sum(1 for t in test if any(overlap(r, t) for r in ref))
    ref_union, test_union = union(ref), union(test)
    return {
        "ref": len(ref),
        "ref_detected": ref_hit,
        "test": len(test),
        "test_true": test_hit,
        "ref_samples": sum(e - s + 1 for s, e in ref_union),
        "test_samples": sum(e - s + 1 for s, e in test_union),
        "overlap_samples": sum(overlap(r, t) for r in ref_union for t in test_union),
    }


def rates(m: dict[str, Any]) -> dict[str, float | None]:
    def pct(a: float, b: float) -> float | None:
        return round(100.0 * a / b, 2) if b else None

    return {
        "episode_se": pct(m["ref_detected"], m["ref"]),
        "episode_ppv": pct(m["test_true"], m["test"]),
        "duration_se": pct(m["overlap_samples"], m["ref_samples"]),
        "duration_ppv": pct(m["overlap_samples"], m["test_samples"]),
    }
