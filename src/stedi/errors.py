"""The error every command reports the same way: one line, exit code 2, nothing written."""


class UsageError(ValueError):
    """Bad arguments or input: reported in one line (`stedi: error: …`), exit code 2, nothing
    written."""


class StorageError(UsageError):
    """A storage request that failed for another reason than a missing file or object (access
    denied, no such bucket, throttling, no credentials, ...): one line naming the bucket or object,
    exit code 2. Never read as "missing": an unreadable erasure registry is not an empty one."""
