"""The error every command reports the same way: one line, exit code 2, nothing written."""


class UsageError(ValueError):
    """Bad arguments or input: reported in one line (`stedi: error: …`), exit code 2, nothing written."""
