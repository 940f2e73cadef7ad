"""Signals the model-version app sends; apps that care about an activation connect to them."""

from django.dispatch import Signal

# Sent after the activating transaction commits, with ``model_version``.
model_version_activated = Signal()
