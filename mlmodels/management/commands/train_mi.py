"""Train and evaluate the MI screening model (patient-wise repeated k-fold), optionally ship it.

    python manage.py train_mi --ship

Resumable: rerun the same command (same --output) after an interruption; finished folds are kept.
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
    help = "Train the MI model on PTB + PTB-XL beats: transfer vs random init, patient-wise k-fold, threshold."

    def add_arguments(self, parser):
        parser.add_argument(
            "--heartbeat-model",
            type=Path,
            default=None,
            help="base .keras for transfer (default: newest mlmodels/artifacts/heartbeat-*.keras)",
        )
        parser.add_argument("--data-dir", type=Path, default=None, help="default: $ECG_DATA_DIR or ../shared/data")
        parser.add_argument("--seed-model", type=Path, default=None, help="seed MI .h5 (default: $ECG_SEED_DIR)")
        parser.add_argument("--lead", default="II")
        parser.add_argument("--repeats", type=int, default=3)
        parser.add_argument("--folds", type=int, default=5)
        parser.add_argument("--inits", default="transfer,random")
        parser.add_argument("--ship-init", default="transfer", help="init of the shipped model")
        parser.add_argument("--lr", type=float, default=5e-4)
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--max-epochs", type=int, default=40)
        parser.add_argument("--patience", type=int, default=8)
        parser.add_argument("--augment", type=int, default=0, help="extra jittered copies per training beat")
        parser.add_argument(
            "--train-layers",
            choices=["all", "head"],
            default="all",
            help="head = keep the transferred layers frozen (random init always trains all)",
        )
        parser.add_argument("--freeze-epochs", type=int, default=0, help="head-only epochs before fine-tuning all")
        parser.add_argument("--label-smoothing", type=float, default=0.0)
        parser.add_argument("--output", type=Path, default=None, help="run dir (default training-runs/mi-<version>)")
        parser.add_argument("--model-version", dest="model_version", default="2026.11-mi1")
        parser.add_argument("--ship", action="store_true", help="copy the model and card to mlmodels/artifacts")
        parser.add_argument("--threads", type=int, default=1)
        parser.add_argument("--bootstrap", type=int, default=1000)

    def log(self, message: str) -> None:
        self.stdout.write(f"[{dt.datetime.now():%H:%M:%S}] {message}")
        self.stdout.flush()

    def handle(self, *args: Any, **opts: Any) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from ecg.training.mi_run import MiRun
        from ecg.training.trainer import TrainingError

        run_dir: Path = opts["output"] or RUNS_DIR / f"mi-{opts['model_version']}"
        run_dir.mkdir(parents=True, exist_ok=True)
        opts["command"] = "python manage.py train_mi " + shlex.join(sys.argv[2:])
        trainer = MiRun(
            log=self.log, checkout=CHECKOUT, cache_dir=CACHE_DIR, artifacts_dir=ARTIFACTS_DIR, ship=opts["ship"]
        )
        try:
            trainer.run(opts, run_dir)
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc
