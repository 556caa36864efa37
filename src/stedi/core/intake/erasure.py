"""Erasure requests: customers to remove from the lake, recorded without their address in clear.

`stedi erase --email ADDRESS` records a request in the lake (`Erasures.request`); the
next pipeline run applies it and marks it done. The registry holds no address: each is
kept as a keyed hash, `keyed_hash(key, normalize_email(address))`, the key being 32
random bytes kept beside it. The registry alone does not let anyone test a guessed
address; the registry and the key together do (a dictionary attack), so the key is as
private as the lake's data: mode 0600 on the local disk, the bucket's access rights on S3.
The key also appears in the SQL text of the conditions below, so in query plans.

    <lake>/_erasure/requests.json  {"requests": [...], "serial_hashes": [...]}
    <lake>/_erasure/key            64 hex digits

A request: `{"id": <first 12 hex digits of the email hash>, "email_hash": ...,
"requested_at": ISO time UTC, "done": None}`, and once applied `"done": {"run": run id,
"at": ISO time UTC, "rows": {table: rows removed}}`. The serial numbers of erased
customers are hashed the same way (`serial_hashes`): once a customer's row is gone,
their step-trainer readings are found by serial number only.

Normalization, the same in Python and in SQL (every engine):

- an email: ASCII whitespace (`string.whitespace`) trimmed at both ends, lower-cased;
- a serial number: ASCII whitespace trimmed at both ends, case kept.

Spark's `trim(x)` trims spaces only, so the SQL names the characters (`char(9)`, ...).
Lower-casing agrees between Python, Java and Rust on ASCII; a requested address is ASCII
(`Erasures.request` refuses any other character).

A quarantined record's text is searched token by token (`mentions_sql`): a token is a
longest run of the characters an address or a serial may hold, `A-Z a-z 0-9 @ . _ % + -`,
with leading and trailing dots removed (an address at the end of a sentence). A record
mentions an address when one of its tokens is that address, ignoring case; a serial
number, when a token is that serial number exactly. So `"user":"Ann@x.com"` mentions
ann@x.com; `xann@x.com` and `ann@x.com.evil` do not. An address written with JSON
escapes (`ann\\u0040x.com`) is not found.

The conditions are plain SQL (`sha2`, `concat`, `split` with a character class,
`exists` with a lambda, `trim(BOTH ... FROM ...)`), which classic Spark and Sail (Spark
Connect) both accept.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import string
from datetime import UTC, datetime

from stedi.core import storage
from stedi.core.intake.registry_files import (  # noqa: F401 (ERASURE_DIR, KEY_FILE: callers name them here)
    ERASURE_DIR,
    KEY_FILE,
    _create_key,
    _path,
    _registry_lock,
    _write,
)

REQUESTS_FILE = "requests.json"

# The characters of a token in a quarantined record's text, and of a requested address.
_PUNCTUATION = "@._%+-"
TOKEN_CHARACTERS = f"A-Za-z0-9{_PUNCTUATION}"
_ADDRESS = re.compile(rf"[{TOKEN_CHARACTERS}]+")
_TOKEN_SPLIT = f"[^{TOKEN_CHARACTERS}]+"
_HASH = re.compile(r"[0-9a-f]{64}")
# Spark's one-argument trim() removes spaces only: the SQL trims these characters by code.
_TRIMMED_SQL = "concat({})".format(", ".join(f"char({ord(c)})" for c in string.whitespace))
_ID_LENGTH = 12


def normalize_email(email: str) -> str:
    """`email` as it is hashed: surrounding ASCII whitespace removed, lower case."""
    return email.strip(string.whitespace).lower()


def normalize_serial(serial: str) -> str:
    """A serial number as it is hashed: surrounding ASCII whitespace removed, case kept."""
    return serial.strip(string.whitespace)


def keyed_hash(key: str, value: str) -> str:
    """Hex SHA-256 of `key + value` (UTF-8): what SQL's `sha2(concat('<key>', value), 256)`
    gives."""
    return hashlib.sha256((key + value).encode("utf-8")).hexdigest()


def check_address(email: str) -> str:
    """The normalized address, or ValueError (one line, without the address) when it is not one
    `erased_sql` and `mentions_sql` can find: one @ between two non-empty parts, only the token
    characters (so no whitespace), no dot at either end."""
    address = normalize_email(email)
    local, at, domain = address.partition("@")
    if not at or "@" in domain or not local or not domain:
        raise ValueError("not an email address: it needs exactly one @ between two non-empty parts")
    if not _ADDRESS.fullmatch(address):
        raise ValueError(
            f"an email address may hold only letters, digits and {_PUNCTUATION} (no whitespace)"
        )
    if address.startswith(".") or address.endswith("."):
        raise ValueError("an email address neither starts nor ends with a dot")
    return address


def check_addresses(emails: list[str]) -> list[str]:
    """The normalized addresses, each once, in order; ValueError naming the first bad one by its
    position (`email 2 of 3: ...`), or when there is none."""
    if not emails:
        raise ValueError("no email address given")
    addresses = []
    for number, email in enumerate(emails, 1):
        try:
            addresses.append(check_address(email))
        except ValueError as exc:
            raise ValueError(f"email {number} of {len(emails)}: {exc}") from None
    return list(dict.fromkeys(addresses))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclasses.dataclass(frozen=True)
class Erasures:
    """The lake's erasure registry: the key, the requests, and the hashed serial numbers of erased
    customers.

    `load` reads it (empty, with no key, when the lake has none) and writes nothing.
    `request` adds requests and saves them. `with_serials` returns a copy with more serial
    hashes; `mark_done` updates a request in place; `save` writes the registry. `update`
    is how a change is saved: the registry read again and changed under a lock, so a request
    made by `stedi erase` while a run works is never overwritten by the run's copy.
    """

    key: str = ""
    requests: list[dict] = dataclasses.field(default_factory=list)
    serial_hashes: frozenset[str] = frozenset()

    @classmethod
    def load(cls, lake_root: str) -> Erasures:
        """The registry of the lake at `lake_root` (a folder or an s3:// URI); empty when there is
        none.

        ValueError when a file is not what this module writes (the hashes and the key go into SQL
        text).
        """
        return cls._parsed(
            lake_root,
            storage.read_text(_path(lake_root, KEY_FILE)),
            storage.read_text(_path(lake_root, REQUESTS_FILE)),
        )

    @classmethod
    def _parsed(cls, lake_root: str, key_text: str | None, text: str | None) -> Erasures:
        key = (key_text or "").strip()
        stored = json.loads(text) if text else {}
        requests = list(stored.get("requests", []))
        serials = frozenset(stored.get("serial_hashes", []))
        if key and not _HASH.fullmatch(key):
            raise ValueError(f"{_path(lake_root, KEY_FILE)} is not 64 hex digits")
        if (requests or serials) and not key:
            raise ValueError(
                f"{_path(lake_root, REQUESTS_FILE)} has requests but the lake has no key"
            )
        hashes = {r.get("email_hash", "") for r in requests} | serials
        if not all(isinstance(h, str) and _HASH.fullmatch(h) for h in hashes):
            raise ValueError(
                f"{_path(lake_root, REQUESTS_FILE)} holds a hash that is not 64 hex digits"
            )
        return cls(key=key, requests=requests, serial_hashes=serials)

    @classmethod
    def request(cls, lake_root: str, emails: list[str]) -> list[dict]:
        """Record an erasure request per address not yet requested; the request of each address, in
        order.

        Every address is checked first (`check_addresses`: ValueError naming the address by its
        position, nothing written); the key is created on first use.
        """
        addresses = check_addresses(emails)
        found = []

        def add(erasures: Erasures) -> Erasures:
            found.clear()  # on S3 a change may be applied again, to the registry read anew
            key = erasures.key or _create_key(lake_root)
            by_hash = {r["email_hash"]: r for r in erasures.requests}
            added = []
            for address in addresses:
                email_hash = keyed_hash(key, address)
                if email_hash not in by_hash:
                    new = {
                        "id": email_hash[:_ID_LENGTH],
                        "email_hash": email_hash,
                        "requested_at": _now(),
                        "done": None,
                    }
                    by_hash[email_hash] = new
                    added.append(new)
                found.append(by_hash[email_hash])
            if not added:  # (a registry without a key has no requests: a new key always adds some)
                return None
            return dataclasses.replace(erasures, key=key, requests=erasures.requests + added)

        cls.update(lake_root, add)
        return found

    @classmethod
    def update(cls, lake_root: str, change) -> Erasures:
        """Read the registry, apply `change` and save what it returns (None: nothing to save);
        returns the registry as saved (or as read). Locally under an exclusive lock on the
        registry's folder, held for the read and the write only (a run holds it for milliseconds,
        not for its steps). On S3 a conditional write (stedi.core.shared_files.update_text): written
        only if nobody wrote since it was read, else read again and `change` applied again, so two
        `stedi erase`, or one and a run marking requests done, lose nothing.
        """
        if storage.is_s3(str(lake_root)):
            from stedi.core import shared_files

            result: list[Erasures] = []

            def apply(text: str | None) -> str | None:
                current = cls._parsed(
                    lake_root, storage.read_text(_path(lake_root, KEY_FILE)), text
                )
                changed = change(current)
                result[:] = [current if changed is None else changed]
                return None if changed is None else changed.serialized()

            shared_files.update_text(_path(lake_root, REQUESTS_FILE), apply)
            return result[0]
        with _registry_lock(str(lake_root)):
            current = cls.load(lake_root)
            changed = change(current)
            if changed is None:
                return current
            changed.save(lake_root)
            return changed

    @property
    def email_hashes(self) -> frozenset[str]:
        """The hashed addresses of every request, done or pending."""
        return frozenset(r["email_hash"] for r in self.requests)

    @property
    def pending(self) -> list[dict]:
        """The requests no run has applied yet."""
        return [r for r in self.requests if r["done"] is None]

    def __bool__(self) -> bool:
        return bool(self.requests)

    def with_serials(self, hashes) -> Erasures:
        """A copy that also holds these serial hashes (`serials_of`): they are kept, as the customer
        rows are not."""
        hashes = frozenset(hashes)
        if not all(_HASH.fullmatch(h) for h in hashes):
            raise ValueError("a serial hash is 64 hex digits")
        return dataclasses.replace(self, serial_hashes=self.serial_hashes | hashes)

    def mark_done(self, request_id: str, run_id: str, counts: dict[str, int]) -> dict:
        """Record that run `run_id` applied the request `request_id`, removing `counts` rows per
        table; the request.

        KeyError when there is no such request. `save` writes it.
        """
        for req in self.requests:
            if req["id"] == request_id:
                req["done"] = {
                    "run": run_id,
                    "at": _now(),
                    "rows": {t: int(n) for t, n in counts.items()},
                }
                return req
        raise KeyError(f"no erasure request {request_id}")

    def fingerprint(self) -> str:
        """A short hash of the sets of hashed addresses and serial numbers: it changes when either
        does."""
        text = (
            "\n".join(sorted(self.email_hashes)) + "\n|\n" + "\n".join(sorted(self.serial_hashes))
        )
        return hashlib.sha256(text.encode("ascii")).hexdigest()[:_ID_LENGTH]

    def save(self, lake_root: str) -> None:
        """Write the registry (the key is written once, by `request`)."""
        _write(_path(lake_root, REQUESTS_FILE), self.serialized())

    def serialized(self) -> str:
        """The registry file's text (the key is not in it)."""
        stored = {"requests": self.requests, "serial_hashes": sorted(self.serial_hashes)}
        return json.dumps(stored, indent=2) + "\n"


def lake_key(lake_root: str) -> str:
    """The lake's secret key (created on first use): erasure requests and the pseudonyms of the
    run reports (consent changes) are keyed hashes under it."""
    key = (storage.read_text(_path(lake_root, KEY_FILE)) or "").strip()
    return key or _create_key(lake_root)
