"""mlopsd: the daemon, its HTTP API, the job runner, the scheduler, the client and the CLIs."""

__version__ = "0.1.0"
