"""Drift: per-column statistics (exact, and fast against stored reference profiles)."""
