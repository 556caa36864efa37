"""stedi.core.storage: the same folder listings and blank-file checks on the local disk and on S3
(moto)."""

from __future__ import annotations

import gzip
import os
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from aws_fixtures import BUCKET
from stedi.core import storage


class LocalPlace:
    """Files under a temporary folder."""

    def __init__(self, root):
        self.root = root

    def folder(self, relative: str = "") -> str:
        return os.path.join(str(self.root), relative) if relative else str(self.root)

    def put(self, relative: str, body: bytes = b"{}\n") -> str:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        return str(path)


class S3Place:
    """Objects under s3://BUCKET/base on the moto server."""

    def __init__(self, base: str = "lake/raw"):
        self.base = base
        self.s3 = boto3.client("s3")

    def folder(self, relative: str = "") -> str:
        return f"s3://{BUCKET}/{self.base}/{relative}".rstrip("/")

    def put(self, relative: str, body: bytes = b"{}\n") -> str:
        self.s3.put_object(Bucket=BUCKET, Key=f"{self.base}/{relative}", Body=body)
        return f"s3://{BUCKET}/{self.base}/{relative}"


@pytest.fixture(params=["local", "s3"])
def place(request, tmp_path):
    if request.param == "local":
        return LocalPlace(tmp_path / "raw")
    request.getfixturevalue("aws_env")
    return S3Place()


def test_is_s3():
    assert storage.is_s3("s3://bucket/raw")
    assert (
        not storage.is_s3("/data/raw")
        and not storage.is_s3("data/s3://x")
        and not storage.is_s3("S3:/x")
    )


# -- listing -------------------------------------------------------------------
def test_list_files_lists_the_files_directly_in_the_folder_sorted(place):
    files = [
        place.put(name)
        for name in ("b.json", "a.jsonl", "c.json.gz", ".hidden.json", "_SUCCESS", "notes.txt")
    ]
    place.put("landing/nested.json")  # a subfolder: not listed
    place.put("landing/deeper/x.json")
    place.put("customer2/other.json")  # a sibling whose name starts with the folder's: not listed
    assert storage.folder_exists(place.folder())
    # Hidden names are listed too: deciding what is an export is stedi.core.intake's job.
    assert storage.list_files(place.folder()) == sorted(files)
    assert storage.list_files(place.folder("landing")) == [place.folder("landing/nested.json")]
    assert storage.list_files(place.folder() + "/") == sorted(
        files
    )  # a trailing slash changes nothing


def test_a_missing_folder_does_not_exist_and_holds_no_files(place):
    place.put("customer/a.json")
    for missing in ("accelerometer", "custom", "customer/a.json/x"):
        assert not storage.folder_exists(place.folder(missing)), missing
        assert storage.list_files(place.folder(missing)) == [], missing
    assert storage.folder_exists(place.folder("customer"))


def test_local_paths_come_back_as_given(tmp_path, monkeypatch):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.json").write_text("{}")
    (tmp_path / "raw" / "sub").mkdir()
    assert storage.list_files(str(tmp_path / "raw")) == [str(tmp_path / "raw" / "a.json")]
    monkeypatch.chdir(tmp_path)
    assert storage.list_files("raw") == [os.path.join("raw", "a.json")]
    assert storage.list_files("raw/a.json") == []  # a file is not a folder
    assert not storage.folder_exists("raw/a.json")


def test_s3_folder_markers_are_not_files_and_a_marker_alone_makes_a_folder(aws_env):
    s3 = boto3.client("s3")
    s3.put_object(
        Bucket=BUCKET, Key="raw/customer/", Body=b""
    )  # what the S3 console's "Create folder" leaves
    s3.put_object(Bucket=BUCKET, Key="raw/customer/landing/", Body=b"")
    assert storage.folder_exists(f"s3://{BUCKET}/raw/customer")
    assert storage.list_files(f"s3://{BUCKET}/raw/customer") == []
    s3.put_object(Bucket=BUCKET, Key="raw/customer/landing/a.json", Body=b"{}")
    assert storage.list_files(f"s3://{BUCKET}/raw/customer/landing") == [
        f"s3://{BUCKET}/raw/customer/landing/a.json"
    ]


def test_s3_a_missing_bucket_is_an_error_naming_it_not_a_missing_folder(aws_env):
    from stedi.errors import StorageError

    for call in (
        storage.folder_exists,
        storage.list_files,
        storage.list_folders,
        storage.read_text,
    ):
        with pytest.raises(StorageError, match="S3 bucket no-such-bucket does not exist"):
            call("s3://no-such-bucket/raw/x.json")
    assert not storage.folder_exists(f"s3://{BUCKET}/raw")  # the bucket exists, holding nothing
    boto3.client("s3").put_object(Bucket=BUCKET, Key="top.json", Body=b"{}")
    assert storage.list_files(f"s3://{BUCKET}") == [f"s3://{BUCKET}/top.json"]


def test_s3_listings_follow_every_page(aws_env, monkeypatch):
    place = S3Place()
    files = [place.put(f"customer/part-{i:03d}.json") for i in range(11)]
    place.put("customer/landing/nested.json")
    monkeypatch.setattr(storage, "_PAGE_SIZE", 3)
    requests = []
    storage.s3_client().meta.events.register(
        "before-parameter-build.s3.ListObjectsV2", lambda params, **_: requests.append(dict(params))
    )
    assert storage.list_files(place.folder("customer")) == files
    assert len(requests) == 4 and all(r["MaxKeys"] == 3 for r in requests)


@pytest.mark.slow  # seconds: the whole tier (make test), not make check
def test_s3_listings_go_past_the_first_1000_keys(aws_env):
    s3 = boto3.client("s3")
    keys = [f"raw/step_trainer/part-{i:04d}.json" for i in range(1001)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}"), keys))
    assert storage.list_files(f"s3://{BUCKET}/raw/step_trainer") == [
        f"s3://{BUCKET}/{k}" for k in keys
    ]


def test_the_s3_client_follows_the_endpoint_setting(aws_env, monkeypatch):
    client = storage.s3_client()
    assert storage.s3_client() is client  # created once per setting
    assert client.meta.endpoint_url == aws_env
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert storage.s3_client().meta.endpoint_url == "http://127.0.0.1:9"


# -- blank files -----------------------------------------------------------------
BLANK = [
    b"",
    b"\n",
    b" \t\r\n\r\n",
    "\ufeff".encode(),
    "\ufeff\n\ufeff  \n".encode(),
    b"\n" * 200_000,
]
NOT_BLANK = [
    b"{}",
    b"\n\n x",
    b"\x00",
    b"\xa0",
    "\u00a0\n".encode(),
    b"\xef\xbb",
    b" " * 200_000 + b"]",
]


@pytest.mark.parametrize("body", BLANK, ids=range(len(BLANK)))
def test_blank_files_hold_only_json_whitespace_and_byte_order_marks(place, body):
    assert storage.is_blank(place.put("customer/a.json", body))
    assert storage.is_blank(place.put("customer/a.json.gz", gzip.compress(body)))


@pytest.mark.parametrize("body", NOT_BLANK, ids=range(len(NOT_BLANK)))
def test_anything_else_is_not_blank(place, body):
    # A NUL, a no-break space, half a byte-order mark (invalid UTF-8) or a late bracket all count.
    assert not storage.is_blank(place.put("customer/a.json", body))
    assert not storage.is_blank(place.put("customer/a.jsonl.gz", gzip.compress(body)))


def test_a_gz_name_is_read_as_gzip(place):
    # The compressed bytes of a blank file are not blank themselves, and a .json is not gunzipped.
    assert storage.is_blank(place.put("customer/blank.json.gz", gzip.compress(b"\n\n")))
    assert not storage.is_blank(place.put("customer/blank.json", gzip.compress(b"\n\n")))
    with pytest.raises(
        OSError
    ):  # gzip.BadGzipFile: a .gz that is not gzip is an error, not "blank"
        storage.is_blank(place.put("customer/plain.json.gz", b"\n\n"))


def test_is_blank_reads_only_until_the_first_character(place, monkeypatch):
    read = []
    real_open = storage.open_binary

    class Counting:
        def __init__(self, path):
            self.handle = real_open(path)

        def read(self, size=-1):
            data = self.handle.read(size)
            read.append(len(data))
            return data

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self.handle.__exit__(*exc_info)

    monkeypatch.setattr(storage, "open_binary", Counting)
    monkeypatch.setattr(storage, "_CHUNK", 1024)
    path = place.put("customer/big.json", b"\n" * 3000 + b"{" + b"x" * 1_000_000)
    assert not storage.is_blank(path)
    assert sum(read) <= 4 * 1024


def test_is_blank_of_a_missing_file_raises(place):
    place.put("customer/a.json")
    with pytest.raises(Exception) as raised:
        storage.is_blank(place.folder("customer/missing.json"))
    assert isinstance(raised.value, FileNotFoundError) or "NoSuchKey" in str(raised.value)


# -- the intake's listing of raw exports on S3 ---------------------------------------------


def test_intake_lists_raw_exports_on_s3(aws_env):
    """On Glue raw_dir is s3://...: the intake finds the same exports there as on disk."""
    from stedi.core import intake

    s3 = boto3.client("s3")
    keys = [
        "raw/customer/landing/customer-1.json",
        "raw/customer/landing/customer-2.json.gz",
        "raw/customer/landing/_SUCCESS",
        "raw/customer/landing/.hidden.json",
        "raw/customer/notes.txt",
        "raw/accelerometer/accelerometer-1.jsonl",
        "raw/accelerometer/landing/",
        "raw/step_trainer/landing/step-1.json",
        "raw/step_trainer/landing/old/step-0.json",
    ]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"" if key.endswith("/") else b'{"a": 1}\n')
    found = intake.check_raw_dir(f"s3://{BUCKET}/raw")
    assert found == {
        "customer": [
            f"s3://{BUCKET}/raw/customer/landing/customer-1.json",
            f"s3://{BUCKET}/raw/customer/landing/customer-2.json.gz",
        ],
        "accelerometer": [f"s3://{BUCKET}/raw/accelerometer/accelerometer-1.jsonl"],
        "step_trainer": [f"s3://{BUCKET}/raw/step_trainer/landing/step-1.json"],
    }
    with pytest.raises(intake.RawInputError, match="does not exist"):
        intake.check_raw_dir(f"s3://{BUCKET}/elsewhere")
    s3.delete_object(Bucket=BUCKET, Key="raw/step_trainer/landing/step-1.json")
    with pytest.raises(intake.RawInputError, match="no export files"):
        intake.raw_files(f"s3://{BUCKET}/raw", "step_trainer")


def test_a_temporary_folder_is_gone_when_its_process_exits_even_if_never_removed(tmp_path):
    """The intake's throw-away store and scratch copies (Ledger.temporary, engines.Storage) are
    such folders: a result nobody released leaves nothing in /tmp once its process ends."""
    import subprocess
    import sys

    script = (
        "from stedi.core import storage; from stedi.core.intake.ledger import Ledger\n"
        "folder = storage.temporary_folder('stedi-test-'); open(folder + '/f', 'w').write('x')\n"
        "print(folder); print(Ledger.temporary().root)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    folder, ledger_root = out.stdout.split()
    assert folder.startswith(str(tmp_path)) and ledger_root.startswith(str(tmp_path))
    assert not os.path.exists(folder) and not os.path.exists(ledger_root)
    assert list(tmp_path.iterdir()) == []
