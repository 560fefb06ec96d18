"""The one failure a job reports: its message is what the job's error says."""


class JobFailed(Exception):
    """A job that cannot succeed; str() is the message the caller sees, saying what to change where it can."""
