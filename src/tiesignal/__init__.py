"""tiesignal: which connection requests lead to a job opportunity, and why."""

__version__ = "0.1.0"
