"""The AWS session every call of stedi.aws uses, and what those calls can fail with.

Credentials come from boto3's standard chain (environment, shared files and profiles,
instance or container role), the region from AWS_DEFAULT_REGION, AWS_REGION or the
profile, and the endpoints from AWS_ENDPOINT_URL (boto3 >= 1.28 reads it itself, for
every service; the tests point it at a moto server).
"""

from __future__ import annotations

import os

from stedi.errors import UsageError


class QueryFailed(RuntimeError):
    """Athena ran the query and reported a failure (exit code 1)."""


def failure_types() -> tuple[type[BaseException], ...]:
    """What an AWS call can fail with: reported in one line, exit code 1."""
    import inspect

    from awswrangler import exceptions as wr_exceptions
    from botocore.exceptions import BotoCoreError, ClientError

    wrangler = tuple(
        c for _, c in inspect.getmembers(wr_exceptions, inspect.isclass) if issubclass(c, Exception)
    )
    return (QueryFailed, ClientError, BotoCoreError, *wrangler)


def aws_session():
    """A boto3 session from the standard chain; refuses, in one line, when there are no credentials
    or region."""
    import boto3

    session = boto3.Session()
    region = session.region_name or os.environ.get("AWS_REGION")
    if session.region_name is None and region:
        session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        raise UsageError(
            "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), "
            "or run where an instance role applies"
        )
    if not session.region_name:
        raise UsageError(
            "no AWS region: set AWS_DEFAULT_REGION (or AWS_REGION), or a region in your profile"
        )
    return session
