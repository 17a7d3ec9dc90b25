"""The daemon's plumbing: the job runner and its worker processes, the scheduler, the inbox
watcher, the lock, logs, the event bus, the run journal and file moves. It knows the store,
never the services."""
