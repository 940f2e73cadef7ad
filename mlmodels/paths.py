"""Where the model-version app keeps shipped artifacts and where training runs write."""

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = CHECKOUT / "mlmodels" / "artifacts"
RUNS_DIR = CHECKOUT / "training-runs"  # not in git
CACHE_DIR = RUNS_DIR / "cache"
