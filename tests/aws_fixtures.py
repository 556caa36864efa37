"""A moto server on 127.0.0.1 and an environment that points boto3 at it, for the AWS tests.

Import the fixtures into a test module (`from aws_fixtures import aws_env, moto_endpoint`),
with `one_line_error`, the check of a refused `stedi aws` command.
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


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch, tmp_path):
    """A clean moto account holding the empty bucket BUCKET, reached through the standard settings."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # Never the developer's own profiles, and never the instance metadata address.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return moto_endpoint


def one_line_error(capsys, code: int, fragment: str) -> str:
    """The captured stderr of a command that must have exited 2 with one `stedi: error:` line naming `fragment`."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("stedi: error: ") and fragment in err, err
    return err
