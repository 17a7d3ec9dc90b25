"""The daemon's services: ingest, training, monitoring, scoring, labels, deploys, alerts and
their watches. Each is the one door for its kind of change (the change, its audit entry and
its event); routes, the scheduler and the retraining pipeline call them."""
