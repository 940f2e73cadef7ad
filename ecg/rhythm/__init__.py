"""Rhythm analysis: heart rate, HRV, ectopy, AF, VF/VFL, pauses, from arrays (no Django)."""

from .analysis import RhythmReport, analyse_rhythm
from .events import EVENT_TYPES, Event

__all__ = ["EVENT_TYPES", "Event", "RhythmReport", "analyse_rhythm"]
