"""Retraining automation: policies, triggers, schedules and the recorded pipeline that
takes a model from a trigger to a gated, deployed and watched new version."""
