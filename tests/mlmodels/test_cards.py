"""The shipped models' cards: what their Markdown says is what their JSON holds, and each says how it was made."""

import json
import re
import shlex
from pathlib import Path

import pytest
from django.core.management import load_command_class

from ecg.training import card, record_card

ARTIFACTS = Path(__file__).resolve().parents[2] / "mlmodels" / "artifacts"
CARDS = sorted(ARTIFACTS.glob("*.json"))


@pytest.mark.parametrize("card_path", CARDS, ids=lambda p: p.stem)
def test_each_cards_markdown_is_its_json_rendered(card_path):
    """The figures a reader sees are the card's own (the .md is written from the .json, never edited apart)."""
    data = json.loads(card_path.read_text())
    render = record_card.render_markdown if data["task"] == "heartbeat_record" else card.render_markdown
    assert card_path.with_suffix(".md").read_text() == render(data)


@pytest.mark.parametrize("card_path", CARDS, ids=lambda p: p.stem)
def test_each_card_gives_its_data_split_command_and_code_version(card_path):
    """A command reproduces a model only with the code it ran: an older card's command can mean another model
    today (2026.12-ctx1's, written before ``--recipe``, now trains a blend), so the card names the commit."""
    data = json.loads(card_path.read_text())
    assert data["training_data"] and data["split"]
    assert re.fullmatch(r"[0-9a-f]{40}", data["code_version"]), data.get("code_version")
    words = shlex.split(data["command"])
    assert words[:2] == ["python", "manage.py"]
    parser = load_command_class("mlmodels", words[2]).create_parser("manage.py", words[2])
    parser.parse_args(words[3:])  # every flag of the command exists (argparse exits on an unknown one)
