"""Serving: loaded model versions, the /v1 prediction endpoints, blue-green switches, the
prediction log and per-version service numbers."""
