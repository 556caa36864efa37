"""The intake's memory in the lake: which raw files were landed (the ledger), and what they held
(the store).

`<lake>/_intake/ledger.json` lists, per source, every raw export file landed: path,
size, modification time, content hash (SHA-256), the run that landed it and when, and the
records read from it (and how many of those were erased). `<lake>/_intake/<source>/`
holds the store: every record of every landed file, parsed and normalized once (canonical
typed columns, reason, kind, source_file, position, raw for the records that keep it),
as Parquet, one folder per file (`file=<key>`, the key derived from the file's path and
content hash).

A run plans each source against the ledger (`Ledger.plan`): a file not in the ledger is
new; a file whose size or modification time changed is hashed (and checked to be UTF-8
text in the same read: `text`, see stedi.core.intake.notext), and is *changed* (a
re-delivery: its records replace what it landed before) when its content hash differs;
a file in the ledger but no longer in the raw folder is *missing*: reported, its records
stay. Only new and changed files are read and parsed; the landing tables are decided
from the store (duplicates across files, the latest customer record), so a run never
parses a file twice. The ledger is written once every landing table is published
(`Ledger.commit`); a run killed before that lands the same files again on resume, into
the same store folders.

The ledger carries a fingerprint of the intake's code and the declared landing schemas
(`intake_fingerprint`): when it changed, the store is rebuilt from raw (every file is new).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from stedi.core import storage
from stedi.core.code_source import add_sources

INTAKE_DIR = "_intake"
LEDGER_FILE = "ledger.json"
STORE_KEY = "file"  # the store's partition column: one folder per landed file
_FORMAT = 1


# The code that decides what a file's records are, and the landing schemas.
_FINGERPRINTED = (
    "stedi.core.intake.classify",
    "stedi.core.intake.csvtext",
    "stedi.core.raw_files",
    "stedi.core.intake.notext",
    "stedi.core.intake.record_units",
    "stedi.core.intake.spark_or_sail",
    "stedi.core.intake.split",
    "stedi.core.tables",
)


def intake_fingerprint() -> str:
    """A short hash of the code that decides what a file's records are, and of the landing
    schemas."""
    digest = hashlib.sha256()
    add_sources(digest, _FINGERPRINTED)
    return digest.hexdigest()[:16]


def file_key(path: str, sha256: str) -> str:
    """The store folder of one file's records: from its path and its content (a re-delivery gets a
    new one)."""
    return "f" + hashlib.sha256(f"{path}\0{sha256}".encode()).hexdigest()[:24]


def utc_timestamp() -> str:
    """Now, in UTC, to the second (ISO 8601): when the ledger landed, replaced or wrote a file."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


@dataclass
class Plan:
    """What a run does with one source's raw files (see the module's docstring)."""

    source: str
    files: list[str]  # every export file in the raw folder now, sorted
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing: list[str] = field(
        default_factory=list
    )  # in the ledger, gone from the raw folder (rows stay)
    entries: dict[str, dict] = field(default_factory=dict)  # path -> ledger entry after this run
    full: bool = False  # the store is rebuilt from raw (--full, or the intake's code changed)
    repaired: list[str] = field(
        default_factory=list
    )  # files parsed now that were not clean JSON lines
    seconds: float = 0.0  # planning and parsing
    erased: int = 0  # records erased from the store in this run

    @property
    def todo(self) -> list[str]:
        """The files to read and parse: new and changed."""
        return sorted(self.new + self.changed)

    @property
    def keys(self) -> dict[str, str]:
        """path -> store key of every file whose records are in the landing decision."""
        return {path: entry["key"] for path, entry in self.entries.items()}

    def summary(self) -> dict:
        return {
            "files": len(self.entries),
            "new": len(self.new),
            "changed": len(self.changed),
            "unchanged": len(self.unchanged),
            "missing": sorted(self.missing),
            "erased": self.erased,
            "full": self.full,
        }


def _stat(path: str) -> tuple[int, int]:
    """(size, modification time in ns) of a local file or an S3 object."""
    if storage.is_s3(path):  # pragma: no cover - S3 is exercised against moto in test_aws
        head = storage.head(path)
        return int(head["ContentLength"]), int(head["LastModified"].timestamp() * 1e9)
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _read_once(path: str) -> tuple[str, bool]:
    """(SHA-256 of the file's bytes, whether it is UTF-8 text: notext.TextCheck), in one read."""
    from stedi.core.intake.notext import TextCheck

    digest, check = hashlib.sha256(), TextCheck(path)
    with storage.open_binary(path) as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            check.update(block)
    return digest.hexdigest(), check.finish()


class Ledger:
    """The ledger of the lake at `lake_root`, or of a scratch folder when the intake runs without a
    lake."""

    def __init__(self, lake_root: str | os.PathLike, *, scratch: bool = False):
        self.root = f"{str(lake_root).rstrip('/')}/{INTAKE_DIR}"
        self.scratch = scratch  # a throw-away store (no lake): removed by release()
        text = None if scratch else storage.read_text(f"{self.root}/{LEDGER_FILE}")
        data = json.loads(text) if text else {}
        self.fingerprint = intake_fingerprint()
        self.stale = bool(data) and (
            data.get("format") != _FORMAT or data.get("fingerprint") != self.fingerprint
        )
        self.sources: dict[str, dict[str, dict]] = {} if self.stale else data.get("sources", {})
        self.replaced: list[dict] = [] if self.stale else data.get("replaced", [])
        self.plans: dict[str, Plan] = {}

    @classmethod
    def temporary(cls) -> Ledger:
        return cls(storage.temporary_folder("stedi-intake-store-"), scratch=True)

    def store(self, source: str) -> str:
        return f"{self.root}/{source}"

    def store_folder(self, source: str, key: str) -> str:
        return f"{self.store(source)}/{STORE_KEY}={key}"

    def plan(self, source: str, files: list[str], *, full: bool = False, run_id: str = "") -> Plan:
        """Compare `files` (reported paths) with what the ledger holds for `source`."""
        full = full or self.stale
        known = {} if full else self.sources.get(source, {})
        plan = Plan(source, sorted(files), full=full)
        for path in plan.files:
            size, mtime = _stat(path)
            entry = known.get(path)
            if entry is not None and entry["size"] == size and entry["mtime_ns"] == mtime:
                plan.unchanged.append(path)
                plan.entries[path] = entry
                continue
            sha, text = _read_once(path)
            if entry is not None and entry["sha256"] == sha:  # touched, not changed
                plan.unchanged.append(path)
                plan.entries[path] = {**entry, "size": size, "mtime_ns": mtime}
                continue
            (plan.new if entry is None else plan.changed).append(path)
            plan.entries[path] = {
                "size": size,
                "mtime_ns": mtime,
                "sha256": sha,
                "key": file_key(path, sha),
                "run": run_id,
                "landed_at": utc_timestamp(),
                "records": 0,
                "erased": 0,
                "text": text,  # False: not UTF-8 text, quarantined whole (stedi.core.intake.notext)
            }
        for path, entry in known.items():
            if path not in plan.entries:
                plan.missing.append(path)
                plan.entries[path] = entry  # reported; its records stay until a --full rebuild
        self.plans[source] = plan
        return plan

    def commit(self) -> None:
        """Write the ledger (after every landing table of the run is published), then drop replaced
        store folders."""
        for source, plan in self.plans.items():
            before = self.sources.get(source, {})
            for path in plan.changed:
                self.replaced.append(
                    {"source": source, "path": path, **before[path], "replaced_at": utc_timestamp()}
                )
            self.sources[source] = dict(sorted(plan.entries.items()))
        if not self.scratch:
            data = {
                "format": _FORMAT,
                "fingerprint": self.fingerprint,
                "written_at": utc_timestamp(),
                "sources": self.sources,
                "replaced": self.replaced,
            }
            storage.write_text(
                f"{self.root}/{LEDGER_FILE}", json.dumps(data, indent=1, sort_keys=True) + "\n"
            )
        for source in self.plans:
            self.sweep(source)

    def sweep(self, source: str) -> None:
        """Remove store folders no ledger entry names (replaced files, a killed run's leftovers)."""
        live = {entry["key"] for entry in self.sources.get(source, {}).values()}
        if source in self.plans:
            live |= set(self.plans[source].keys.values())
        for folder in storage.list_folders(self.store(source)):
            name = folder.rstrip("/").rsplit("/", 1)[-1]
            if not (name.startswith(f"{STORE_KEY}=") and name.split("=", 1)[1] in live):
                storage.remove_folder(folder)

    def state(self, source: str) -> str:
        """A short hash of what the source's landing decision is made from (its live files' keys and
        counts)."""
        plan = self.plans.get(source)
        entries = plan.entries if plan is not None else self.sources.get(source, {})
        text = json.dumps(sorted((e["key"], e.get("erased", 0)) for e in entries.values()))
        return hashlib.sha256(f"{self.fingerprint}{text}".encode()).hexdigest()[:16]

    def release(self) -> None:
        if self.scratch and not storage.is_s3(self.root):
            shutil.rmtree(Path(self.root).parent, ignore_errors=True)


def staging_folder(ledger: Ledger, source: str) -> str:
    return f"{ledger.root}/.staging/{source}-{uuid.uuid4().hex[:12]}"
