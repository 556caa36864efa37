"""S3 errors are never "missing" (stedi.core.storage): against a moto server, with moto's IAM
authorization switched on for a user who may list and write the lake's bucket but not read it.

An AccessDenied on the erasure registry read as "no erasure requests" would land erased
customers again; it stops the read, and the command, with one line naming the object.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

from aws_fixtures import BUCKET, one_line_error
from stedi.cli import main
from stedi.core import storage
from stedi.core.intake import erasure
from stedi.core.intake.erasure import Erasures
from stedi.errors import StorageError

LAKE = f"s3://{BUCKET}/team/lake"
USER = "lake-writer-no-reads"


def _moto_auth(endpoint: str, after: str) -> None:
    """moto's IAM authorization on (after "0" more requests) or off ("inf")."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=after.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )  # form-encoded, Flask hides the body
    urllib.request.urlopen(request).close()


@contextlib.contextmanager
def _no_reads(endpoint: str, monkeypatch):
    """Inside: moto authorizes every request, made with the credentials of USER, who has
    s3:ListBucket and s3:PutObject on the bucket and no s3:GetObject."""
    iam = boto3.client("iam")
    iam.create_user(UserName=USER)
    # moto 5.2 authorizes ListObjectsV2 as the action s3:ListObjectsV2 (AWS: s3:ListBucket): both
    # allowed
    allowed = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:ListObjectsV2", "s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
            }
        ],
    }
    iam.put_user_policy(UserName=USER, PolicyName="no-reads", PolicyDocument=json.dumps(allowed))
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    with monkeypatch.context() as patched:
        patched.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        patched.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        _moto_auth(endpoint, "0")
        try:
            yield
        finally:
            _moto_auth(endpoint, "inf")


def _registry_file() -> str:
    return erasure._path(LAKE, erasure.REQUESTS_FILE)


def test_access_denied_on_the_erasure_registry_is_never_no_requests(aws_env, monkeypatch, capsys):
    [request] = Erasures.request(
        LAKE, ["erased@example.com"]
    )  # as the account's owner: the registry exists
    with _no_reads(aws_env, monkeypatch):
        # the user can list the lake: what is denied is the read, the set-up works
        assert storage.folder_exists(f"{LAKE}/{erasure.ERASURE_DIR}")
        with pytest.raises(ClientError, match="AccessDenied"):
            boto3.session.Session().client("s3").get_object(
                Bucket=BUCKET, Key=_registry_file().split("/", 3)[3]
            )
        with pytest.raises(StorageError) as denied:
            storage.read_text(_registry_file())
        assert str(denied.value).startswith(
            f"S3 GetObject on {_registry_file()} failed: AccessDenied"
        )
        assert "\n" not in str(denied.value)
        with pytest.raises(StorageError, match="AccessDenied"):
            Erasures.load(LAKE)
        capsys.readouterr()
        err = one_line_error(
            capsys,
            main(["erase", "--lake-dir", LAKE, "--email", "other@example.com"]),
            "AccessDenied",
        )
        # the first object the command reads names the failure (whether the lake holds a ledger,
        # then the registry): either way one line, and no request is recorded over what it cannot
        # read
        assert f"S3 GetObject on {LAKE}/" in err
    # nothing was written over the registry: the one request made before is all it holds
    assert [r["email_hash"] for r in Erasures.load(LAKE).requests] == [request["email_hash"]]


def test_a_missing_object_is_missing_and_nothing_else_is(aws_env, monkeypatch):
    assert storage.read_text(f"{LAKE}/_erasure/requests.json") is None  # NoSuchKey
    with pytest.raises(FileNotFoundError, match="does not exist"):
        storage.head(f"{LAKE}/nothing.json")  # HeadObject: a 404 without a body
    with pytest.raises(FileNotFoundError):
        storage.open_binary(f"{LAKE}/nothing.json")
    assert Erasures.load(LAKE).requests == []

    def throttled(**kwargs):
        raise ClientError(
            {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}},
            "GetObject",
        )

    client = storage.s3_client()
    monkeypatch.setattr(client, "get_object", throttled)
    with pytest.raises(StorageError) as slowed:
        storage.read_text(_registry_file())
    assert str(slowed.value) == (
        f"S3 GetObject on {_registry_file()} failed: SlowDown: Please reduce your request rate."
    )


def test_no_credentials_is_one_line_naming_the_object(aws_env, monkeypatch, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    with pytest.raises(
        StorageError, match=f"S3 request on {_registry_file()} failed: Unable to locate credentials"
    ):
        storage.read_text(_registry_file())
    one_line_error(
        capsys,
        main(["erase", "--lake-dir", LAKE, "--email", "x@example.com"]),
        "Unable to locate credentials",
    )
