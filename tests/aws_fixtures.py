"""A moto server on 127.0.0.1 and an environment that points boto3 at it, for the AWS tests.

The fixtures are registered for every test module by conftest.py's `pytest_plugins`; a test
module imports only the helpers: `BUCKET`, `one_line_error` (the check of a refused `stedi aws`
command) and the like.
Code under test reaches moto through the standard settings only (AWS_ENDPOINT_URL and
friends): no code path knows it is moto.
"""

from __future__ import annotations

import logging
import urllib.request

import boto3
import pytest

BUCKET = "stedi-test-lake"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on the captured stderr
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def set_aws_env(env, endpoint: str, tmp) -> None:
    """Point boto3 (and every process started with this environment) at the moto server
    `endpoint`, with test credentials; `env` is a pytest MonkeyPatch, `tmp` a folder."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL_S3"):
        env.delenv(name, raising=False)
    env.setenv("AWS_ENDPOINT_URL", endpoint)
    env.setenv("AWS_ACCESS_KEY_ID", "testing")
    env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    env.setenv("AWS_DEFAULT_REGION", REGION)
    # Never the developer's own profiles, and never the instance metadata address.
    env.setenv("AWS_CONFIG_FILE", str(tmp / "no-aws-config"))
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-aws-credentials"))
    env.setenv("AWS_EC2_METADATA_DISABLED", "true")


def download_bucket(out, bucket: str = BUCKET):
    """Every object of `bucket`, as local files under `out` (for decoding)."""
    s3 = boto3.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            target = out / item["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return out


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch, tmp_path):
    """A clean moto account holding the empty bucket BUCKET, reached through the standard
    settings."""
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    ).close()
    set_aws_env(monkeypatch, moto_endpoint, tmp_path)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return moto_endpoint


def one_line_error(capsys, code: int, fragment: str) -> str:
    """The captured stderr of a command that must have exited 2 with one `stedi: error:` line naming
    `fragment`."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("stedi: error: ") and fragment in err, err
    return err
