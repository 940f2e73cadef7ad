"""Train, evaluate (inter- and intra-patient) and optionally ship the heartbeat classifier.

    python manage.py train_heartbeat --arch residual --search --ship

Runs are resumable: rerun the same command (same --output) after an interruption.
"""

import datetime as dt
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from mlmodels.paths import ARTIFACTS_DIR, CACHE_DIR, CHECKOUT, RUNS_DIR


class Command(BaseCommand):
    help = "Train and evaluate the 5-class AAMI heartbeat classifier on MIT-BIH (or a Kaggle CSV)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--protocol",
            choices=["inter", "intra", "both"],
            default="both",
            help="inter = train DS1 / test DS2; intra = stratified 80/20 beats; both (default)",
        )
        parser.add_argument("--arch", choices=["seed", "residual"], default="residual")
        parser.add_argument("--epochs", type=int, default=40)
        parser.add_argument("--search", action="store_true", help="successive-halving search on DS1 first")
        parser.add_argument("--search-configs", type=int, default=8)
        parser.add_argument(
            "--output", type=Path, default=None, help="run directory (default training-runs/heartbeat-<version>)"
        )
        parser.add_argument("--records", default="", help="comma-separated subset of MIT-BIH records (quick runs)")
        parser.add_argument("--data-dir", type=Path, default=None, help="default: $ECG_DATA_DIR or ../shared/data")
        parser.add_argument("--kaggle-csv", type=Path, default=None, help="train on a Kaggle mitbih_train.csv instead")
        parser.add_argument("--kaggle-test-csv", type=Path, default=None, help="test on a Kaggle mitbih_test.csv")
        parser.add_argument("--seed-model", type=Path, default=None, help="seed .h5 to compare against")
        parser.add_argument("--model-version", dest="model_version", default="2026.11-res2")
        parser.add_argument(
            "--ship", action="store_true", help="copy the inter-patient model and card to mlmodels/artifacts"
        )
        parser.add_argument("--threads", type=int, default=2)
        parser.add_argument(
            "--throughput-batches",
            type=int,
            default=4,
            help="batches of 1024 random beats per timed pass (throughput in the card)",
        )
        parser.add_argument("--throughput-repeats", type=int, default=3)
        parser.add_argument("--note", action="append", default=[], help="a line for the card's notes (repeatable)")
        parser.add_argument("--weight-cap", type=float, default=None)
        parser.add_argument(
            "--baseline-card",
            type=Path,
            default=None,
            help="card.json of a baseline run (e.g. --arch seed) to show beside this model",
        )
        for name, kind in (
            ("lr", float),
            ("batch-size", int),
            ("width", int),
            ("dropout", float),
            ("class-weight", str),
            ("patience", int),
        ):
            parser.add_argument(f"--{name}", type=kind, default=None)

    def log(self, message: str) -> None:
        self.stdout.write(f"[{dt.datetime.now():%H:%M:%S}] {message}")
        self.stdout.flush()

    def handle(self, *args: Any, **opts: Any) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from ecg.training.heartbeat_run import HeartbeatRun
        from ecg.training.trainer import TrainingError

        run_dir: Path = opts["output"] or RUNS_DIR / f"heartbeat-{opts['model_version']}"
        opts["command"] = "python manage.py train_heartbeat " + shlex.join(sys.argv[2:])
        trainer = HeartbeatRun(
            log=self.log, checkout=CHECKOUT, cache_dir=CACHE_DIR, ship_to=ARTIFACTS_DIR if opts["ship"] else None
        )
        try:
            trainer.run(opts, run_dir)
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc
