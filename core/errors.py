"""Errors a user can cause. Each message says what is wrong and how to fix it."""


class UserError(Exception):
    """Bad input from a person: shown as one sentence, never as a traceback (CLI exit code 2)."""


class DatasetError(UserError):
    """A file or a column mapping that cannot become a dataset."""


class ModelError(UserError):
    """A model that cannot be loaded or is not allowed."""


class RunStateError(UserError):
    """An action that does not fit the run's current status."""


class NotFoundError(UserError):
    """An id that names nothing."""


class ConfigError(UserError):
    """Training settings that cannot work."""


class CheckpointError(UserError):
    """A saved checkpoint that cannot be trusted or used to resume."""


class DatabaseFileError(UserError):
    """A database file that is not a valid Use Case Lab database (the app refuses to start on it)."""
