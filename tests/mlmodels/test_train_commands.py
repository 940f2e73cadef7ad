"""The training commands parse options and hand them to ecg.training; their own behaviour only."""

import pytest
from django.core.management import CommandError, call_command

from mlmodels.management.commands import train_heartbeat, train_mi


def test_train_heartbeat_without_output_runs_in_a_folder_named_for_the_version(tmp_path, monkeypatch):
    monkeypatch.setattr(train_heartbeat, "RUNS_DIR", tmp_path)
    with pytest.raises(CommandError, match="unknown MIT-BIH records: 999"):
        call_command("train_heartbeat", "--records", "999", "--model-version", "t-1", "--threads", "1")
    assert (tmp_path / "heartbeat-t-1").is_dir()


def test_train_mi_says_where_it_looked_for_missing_data(tmp_path, monkeypatch):
    monkeypatch.setattr(train_mi, "RUNS_DIR", tmp_path)
    with pytest.raises(CommandError, match="MI data not found at"):
        call_command("train_mi", "--data-dir", str(tmp_path / "nowhere"), "--model-version", "t-1", "--threads", "1")
    assert (tmp_path / "mi-t-1").is_dir()
