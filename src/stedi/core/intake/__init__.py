"""raw -> landing: find the exports, split them into records, normalize to the canonical schema,
account.

Every record read ends in exactly one of: landed, quarantined (with a reason), or
dropped as an exact duplicate (counted). `IntakeResult.accounting` states the
identity `read = landed + quarantined + duplicates`; `check_accounting` fails when
it does not hold.

How a table is read (each file once):

1. Every export file (JSON, or CSV: `*.csv`, `*.csv.gz`) is read whole (`wholetext`;
   gzip decompressed by the engine): one row per file, named by its path.
2. In the engine (`file_units`), each file is checked: a file whose every line is
   exactly one flat JSON object is *clean* (JSON lines, with CRLF endings or a
   byte-order mark or not) and takes the fast path: it is cut into its lines,
   which are the records, parsed by `from_json`. So is a CSV file without quotes or blank
   lines: each line after the header is a row, made a JSON object of the header's names
   and the row's fields (all strings, an empty field null) in the engine. Any other file
   stays whole.
3. `classify_records`, one DataFrame function for every record: parsed with the
   declared types; a record that parse does not settle is parsed again as a JSON
   object into a map, keys matched to the canonical columns case-insensitively
   (`timeStamp` is `timestamp`), values coerced to the declared types
   (`1655564376361.0` is a bigint, a phone written as a number is a string);
   required keys checked, exact duplicates dropped, for customers the latest
   version per email kept. The result is stored (on the local disk: Spark's disk cache,
   or Parquet in a scratch folder on Sail, whose cache does nothing) and counted. When
   every file was clean, that is all: one job.
4. Files that were not clean (objects run together `}{`, separated by commas, a
   JSON array, pretty-printed, a truncated last record, lines that are not JSON,
   ...; CSV files with quoted fields, blank lines, ...) come out of step 3 whole,
   stored. `split_records` (JSON) or `csvtext.split_csv` (CSV), pure Python functions,
   cut each into records in a UDF on the executors (one file per call, files in
   parallel), marking what is not a record; then every record is classified again, so
   that duplicates and customer versions are found across all files, JSON and CSV alike.
   A CSV row is classified through its JSON object; its quarantined text is the row as
   written.

The modules, in the order a table goes through them:

    (stedi.core.raw_files: finding a source's export files: raw_files, check_raw_dir,
    RawInputError; outside this package, which loads PySpark)
    spark_or_sail  what differs between a classic Spark session and Spark Connect (Sail)
    record_units   reading the files with Spark and cutting them into record units
    split       split_records: cutting a file that is not clean JSON lines (pure Python)
    csvtext     split_csv: cutting a CSV file into rows, each a JSON object (pure Python)
    classify    parse, normalize and decide each record's outcome (Spark SQL)
    accounting  tally and check_accounting (IntakeAccountingError)
    ledger      the lake's memory: the raw files landed (ledger.json) and where their records are
    stored record_store   the store: each landed file's parsed records; keep, add to or decide a
    landing table whole erasure     erasure requests (keyed hashes) and the conditions that find an
    erased customer's records landing     land_source (one source -> IntakeResult) and land_all
    (every source at once)

A run parses only the files its ledger has not landed, or that changed (see ledger); the
landing tables are then decided from the store (see record_store).

The raw directory is only ever read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from stedi.core.raw_files import RAW_SUFFIXES, RawInputError, check_raw_dir, raw_files

# The names this package offers, by the module that defines them. They are loaded on first use
# (PEP 562): most of them load PySpark, which `stedi run`'s own process (the runner: options,
# freshness, ledger) never needs (0.2 s of every run).
_FROM = {
    "accounting": ("IntakeAccountingError", "check_accounting", "tally"),
    "classify": (
        "DUPLICATE",
        "LANDED",
        "QUARANTINED",
        "REASONS",
        "classify_records",
        "decide_records",
        "normalize_records",
    ),
    "csvtext": ("CsvRow", "split_csv"),
    "landing": ("IntakeResult", "land_all", "land_source"),
    "record_units": ("file_units", "read_texts", "split_file_records"),
    "split": ("NOT_JSON", "RECORD", "TRUNCATED", "UNSPLIT", "RawRecord", "split_records"),
}
_MODULE_OF = {name: module for module, names in _FROM.items() for name in names}

__all__ = [
    "DUPLICATE",
    "LANDED",
    "NOT_JSON",
    "QUARANTINED",
    "RAW_SUFFIXES",
    "REASONS",
    "RECORD",
    "TRUNCATED",
    "UNSPLIT",
    "CsvRow",
    "IntakeAccountingError",
    "IntakeResult",
    "RawInputError",
    "RawRecord",
    "check_accounting",
    "check_raw_dir",
    "classify_records",
    "decide_records",
    "file_units",
    "land_all",
    "land_source",
    "normalize_records",
    "raw_files",
    "read_texts",
    "split_csv",
    "split_file_records",
    "split_records",
    "tally",
]

if TYPE_CHECKING:  # what the names are, for readers and type checkers
    from stedi.core.intake.accounting import IntakeAccountingError, check_accounting, tally
    from stedi.core.intake.classify import (
        DUPLICATE,
        LANDED,
        QUARANTINED,
        REASONS,
        classify_records,
        decide_records,
        normalize_records,
    )
    from stedi.core.intake.csvtext import CsvRow, split_csv
    from stedi.core.intake.landing import IntakeResult, land_all, land_source
    from stedi.core.intake.record_units import file_units, read_texts, split_file_records
    from stedi.core.intake.split import (
        NOT_JSON,
        RECORD,
        TRUNCATED,
        UNSPLIT,
        RawRecord,
        split_records,
    )


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once
    return value
