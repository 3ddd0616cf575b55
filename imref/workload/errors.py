"""The workload's exception."""

from imref import ImrefError


class WorkloadError(ImrefError, ValueError):
    """A workload name or spec is invalid, or its files are missing or malformed."""
