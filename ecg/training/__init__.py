"""Training heartbeat and MI models, and their model cards."""
