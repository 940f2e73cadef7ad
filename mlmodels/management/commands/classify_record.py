import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from ecg.constants import AAMI_CLASSES
from ecg.io import readers
from ecg.io.errors import SignalError
from mlmodels.models import ModelVersion

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _read(path: str, fs: float | None, lead: str | None) -> readers.Signal:
    p = Path(path)
    if p.suffix.lower() == ".edf":
        return readers.read_edf(p, lead=lead)
    if p.suffix.lower() in {".csv", ".txt"}:
        if fs is None:
            raise CommandError("a CSV signal needs --fs (its sampling rate in Hz)")
        return readers.read_csv_signal(p.read_bytes(), fs, lead=lead)
    if p.suffix.lower() == ".json":
        return readers.read_json_signal(json.loads(p.read_text()), fs)
    if p.suffix.lower() in {".dcm", ".xml"}:  # a 12-lead cart's DICOM waveform or HL7 aECG
        data = p.read_bytes()
        fmt = readers.sniff_format(p.name, data[:4096])
        return readers.read_dicom(data) if fmt == "dicom" else readers.read_aecg(data)
    if p.suffix.lower() in {".hea", ".dat"}:
        p = p.with_suffix("")
    if not p.with_suffix(".hea").exists():
        raise CommandError(
            f"{path}: expected a WFDB record (path without extension), an .edf, .csv, .dcm (DICOM) or .xml (aECG) file"
        )
    return readers.read_wfdb(p)


def _active(task: str) -> ModelVersion | None:
    try:
        return ModelVersion.objects.filter(task=task, is_active=True).first()
    except DatabaseError:  # no database yet: fall back to the bundled artifacts
        return None


class Command(BaseCommand):
    help = "Classify every beat of a continuous ECG (WFDB record, EDF, one-column CSV or JSON)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="WFDB record path without extension, or an .edf / .csv / .json file")
        parser.add_argument("--fs", type=float, help="sampling rate in Hz (CSV and plain JSON arrays)")
        parser.add_argument("--lead", help="lead name (default: MLII, else II, else the first)")
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument(
            "--heartbeat-model", type=Path, help=".keras file (default: the active version, else the bundled one)"
        )
        parser.add_argument(
            "--mi-model", type=Path, help=".keras file (default: the active MI version, else the bundled one)"
        )

    def handle(self, *args, path, fs, lead, format, heartbeat_model, mi_model, **options):
        from ecg.models.classify import classify_signal

        hb_model, labels, model_name = self._heartbeat_model(heartbeat_model)
        mi, mi_threshold = self._mi_model(mi_model)
        try:
            signal = _read(path, fs, lead)
            if fs is not None and abs(fs - signal.fs) > 1e-6 and signal.source_format in {"wfdb", "edf"}:
                raise CommandError(f"--fs {fs:g} contradicts the file's own sampling rate {signal.fs:g} Hz")
            lead_name = signal.lead_name(lead)
            result = classify_signal(
                signal, lead_name, heartbeat_model=hb_model, labels=labels, mi_model=mi, mi_threshold=mi_threshold
            )
        except SignalError as exc:
            raise CommandError(str(exc)) from None
        except ValueError as exc:  # no beat could be cut, and no VF/VFL found
            raise CommandError(str(exc)) from None
        beats, r_peaks, scores, predicted = result.beats, result.r_peaks, result.scores, result.predicted
        mi_probs, rhythm = result.mi_probabilities, result.rhythm
        counts = {c: int(sum(1 for p in predicted if p == c)) for c in AAMI_CLASSES}
        screen = result.mi_screen.as_dict()
        summary = {
            "heartbeat_model": model_name,
            "context": "record" if result.record_level else "single beat (no rhythm context)",
            "lead": lead_name,
            "beats": len(beats),
            "counts": counts,
            "percentages": {c: round(100.0 * n / max(len(beats), 1), 2) for c, n in counts.items()},
            # the rhythm analysis's mean: beats inside VF/VFL and the intervals across it left out
            "mean_heart_rate_bpm": rhythm.summary["heart_rate"]["mean_bpm"],
            "mi_score": screen["score"] if screen["status"] == "screened" else None,
            "mi_screen": screen,
            "rhythm": rhythm.summary,
        }
        scored = set(int(i) for i in result.mi_screen.scored)
        rows = [
            {
                "sample": int(r_peaks[i]),
                "aami_class": predicted[i],
                "probabilities": {labels[k]: round(float(scores[i, k]), 6) for k in range(len(labels))},
                "mi_probability": round(float(mi_probs[i]), 6) if mi_probs is not None else None,
                "mi_scored": i in scored,
            }
            for i in range(len(beats))
        ]
        if format == "json":
            events = [e.as_dict() for e in rhythm.events]
            self.stdout.write(json.dumps({"fs": signal.fs, "beats": rows, "events": events, "summary": summary}))
            return
        self.stdout.write(f"{'sample':>10}  class  " + "  ".join(f"P({c})" for c in labels) + "   P(MI)")
        for row in rows:
            probs = "  ".join(f"{row['probabilities'][c]:.3f}" for c in labels)
            mi_text = f"{row['mi_probability']:.3f}" if row["mi_probability"] is not None else "  —"
            self.stdout.write(f"{row['sample']:>10}  {row['aami_class']:^5}  {probs}   {mi_text}")
        self.stdout.write("")
        self.stdout.write(f"{summary['beats']} beats in {readers.lead_phrase(lead_name)} at {signal.fs:g} Hz")
        for c in AAMI_CLASSES:
            self.stdout.write(f"  {c}: {counts[c]:6d}  ({summary['percentages'][c]:.1f} %)")
        if summary["mean_heart_rate_bpm"]:
            self.stdout.write(f"Mean heart rate: {summary['mean_heart_rate_bpm']:.1f} bpm")
        if screen["status"] == "screened":
            verdict = "flagged" if screen["flag"] else "not flagged"
            self.stdout.write(
                f"MI screen: score {screen['score']:.3f} against threshold {screen['threshold']:.3f}, {verdict} "
                f"({screen['beats_used']} beats of {screen['lead']})"
            )
        else:
            self.stdout.write(f"MI screen {screen['status'].replace('_', ' ')}: {screen['reason']}")
        if rhythm.events:
            self.stdout.write("Rhythm events:")
            for e in rhythm.events:
                beats = f", {e.beats} beats" if e.beats is not None else ""  # none for VF/VFL
                rate = f", {e.rate_bpm:g} bpm" if e.rate_bpm is not None else ""
                self.stdout.write(
                    f"  {e.type:<10} {e.start / signal.fs:9.1f} s - {e.end / signal.fs:9.1f} s{beats}{rate}"
                )

    def _heartbeat_model(self, path: Path | None):
        """(model, class labels, name): the record-level model (active, else bundled) for a continuous
        signal; the beat-format one only when no record-level model exists or one is given."""
        from ecg.models import inference
        from mlmodels import registry

        if path is None:
            for task in (ModelVersion.Task.HEARTBEAT_RECORD, ModelVersion.Task.HEARTBEAT):
                active = _active(task)
                if active is not None:
                    return registry.model_for(active), [str(c).upper() for c in active.class_labels], str(active)
                bundled = sorted(ARTIFACTS.glob(f"{task}-*.keras"))
                if bundled:
                    path = bundled[-1]
                    break
            else:
                raise CommandError("no heartbeat model: give --heartbeat-model or activate a version")
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        return inference.load_model(path, key=str(path.resolve())), list(AAMI_CLASSES), path.stem

    def _mi_model(self, path: Path | None):
        """(model or None, threshold): the given .keras file (threshold from its card beside it, else 0.5),
        else the active MI version, else the bundled one."""
        from ecg.models import inference
        from mlmodels import registry

        if path is None:
            active = _active(ModelVersion.Task.MI)
            if active is not None:
                return registry.model_for(active), active.effective_threshold
            bundled = sorted(ARTIFACTS.glob("mi-*.keras"))
            if not bundled:
                return None, 0.5
            path = bundled[-1]
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        card = path.with_suffix(".json")
        threshold = json.loads(card.read_text()).get("threshold") if card.exists() else None
        return inference.load_model(path, key=str(path.resolve())), 0.5 if threshold is None else float(threshold)
