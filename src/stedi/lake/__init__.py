"""Lake I/O: tables read, staged and published by name on the local disk or S3, and the one-writer
lock."""
