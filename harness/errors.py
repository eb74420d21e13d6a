"""Errors the CLI turns into one-line messages instead of tracebacks."""


class HarnessError(Exception):
    """Bad input the user can fix: the message says what is wrong and what is accepted."""


class ConfigError(HarnessError):
    pass


class DataError(HarnessError):
    pass
