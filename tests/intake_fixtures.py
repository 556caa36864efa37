"""Messy STEDI exports built from the real records, each with what the intake must make of it.

An `Export` is one file to put under `<raw>/<table>/` (or `<raw>/<table>/landing/`):
its bytes, the canonical rows that must land from it, the quarantine reasons it
must produce, and the exact duplicates it must drop. Builders take real records
(dicts, as in data/raw) and write them in one of the layouts the STEDI exports
arrived in, with the schema drift and the defects of the issue.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from stedi import config
from stedi.core.tables import REQUIRED_COLUMNS, landing_table, table

Record = dict
# The records of each source in data/raw (the README's landing counts).
REAL_COUNTS = {"customer": 956, "accelerometer": 81_273, "step_trainer": 28_680}


def columns(source: str):
    return table(landing_table(source)).columns


def real_records(source: str, limit: int | None = None) -> list[Record]:
    """The real records of `source`, in file order (all of them unless `limit`)."""
    records: list[Record] = []
    for path in sorted((config.RAW_DIR / source).glob("*.json")):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    records.append(json.loads(line))
                    if limit is not None and len(records) >= limit:
                        return records
    return records


def canonical(source: str, record: Record) -> tuple:
    """The landing row a real record must become, as a tuple in the declared column order."""
    cast = {"string": str, "bigint": int, "int": int, "double": float}
    return tuple(
        None if record.get(name) is None else cast[typ](record[name])
        for name, typ in columns(source)
    )


# -- layouts: records -> text ----------------------------------------------------


def dumps(record: Record) -> str:
    return json.dumps(record)


def json_lines(records: list[Record], newline: str = "\n") -> str:
    return "".join(dumps(r) + newline for r in records)


def concatenated(records: list[Record]) -> str:
    return "".join(dumps(r) for r in records)


def comma_lines(records: list[Record]) -> str:
    return ",\n".join(dumps(r) for r in records) + "\n"


def pretty_array(records: list[Record]) -> str:
    return json.dumps(records, indent=2) + "\n"


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def bom(text: str) -> str:
    return "\ufeff" + text


LAYOUTS = {
    "json_lines": json_lines,
    "concatenated": concatenated,
    "comma_lines": comma_lines,
    "pretty_array": pretty_array,
}


# -- drift that keeps the meaning ------------------------------------------------

# Keys as an older export spelled them (the raw sample uses `timeStamp`).
KEY_DRIFT = {
    "customer": {
        "serialNumber": "serialnumber",
        "shareWithResearchAsOfDate": "ShareWithResearchAsOfDate",
    },
    "accelerometer": {"timestamp": "timeStamp"},
    "step_trainer": {"sensorReadingTime": "SensorReadingTime"},
}


def drift_keys(source: str, record: Record) -> Record:
    renames = KEY_DRIFT[source]
    return {renames.get(k, k): v for k, v in record.items()}


def float_numbers(source: str, record: Record) -> Record:
    """Integer columns written as floats: epoch milliseconds as `1655564376361.0`."""
    integers = {name for name, typ in columns(source) if typ in ("bigint", "int")}
    return {k: float(v) if k in integers and isinstance(v, int) else v for k, v in record.items()}


def phone_as_number(record: Record) -> Record:
    return {**record, "phone": int(record["phone"])} if "phone" in record else record


def explicit_nulls(source: str, record: Record) -> Record:
    """Optional columns absent from the record written as explicit nulls."""
    return {**record, **{name: None for name, _ in columns(source) if name not in record}}


# -- defects that make a record unusable -------------------------------------------

BAD_TYPES = {
    "customer": ("registrationDate", "abc"),
    "accelerometer": ("x", "abc"),
    "step_trainer": ("distanceFromObject", 12.5),
}

NOT_JSON_LINES = (
    "this is not json",
    "<html><body>502 Bad Gateway</body></html>",
    "ERROR: export interrupted",
)


def without_required(source: str, record: Record, which: int = 0) -> Record:
    required = REQUIRED_COLUMNS[source]
    name = required[which % len(required)]
    return {k: v for k, v in record.items() if k != name}


def with_bad_type(source: str, record: Record) -> Record:
    name, value = BAD_TYPES[source]
    return {**record, name: value}


def older_version(record: Record) -> Record:
    """An earlier export of the same customer: older lastUpdateDate, another phone."""
    return {
        **record,
        "lastUpdateDate": record["lastUpdateDate"] - 86_400_000,
        "phone": "8015550000",
    }


def cut(text: str) -> str:
    """The text of a record cut off mid-way."""
    return text[: len(text) // 2]


# -- exports ----------------------------------------------------------------------


@dataclass
class Export:
    name: str
    text: str
    landed: list[tuple] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)
    duplicates: int = 0
    folder: str = ""  # "" for <raw>/<table>/, "landing" for <raw>/<table>/landing/
    gzip: bool = False
    fast: bool = (
        False  # a clean CSV file: cut in the engine (a JSON export's kind is decided by its name)
    )

    def write(self, raw_dir: Path, source: str) -> Path:
        folder = raw_dir / source / self.folder if self.folder else raw_dir / source
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.name
        data = self.text.encode("utf-8")
        path.write_bytes(gzip.compress(data, mtime=0) if self.gzip else data)
        return path


def write_exports(raw_dir: Path, source: str, exports: list[Export]) -> dict[str, Export]:
    """Write the exports; returns them by the path the intake reports (`source_file`)."""
    return {str(e.write(raw_dir, source)): e for e in exports}


def defect_exports(source: str, records: list[Record], per_file: int = 12) -> list[Export]:
    """One file per defect (and one clean file), each from its own slice of `records`."""
    slices = iter(records[i : i + per_file] for i in range(0, len(records), per_file))

    def rows(rs):
        return [canonical(source, r) for r in rs]

    exports: list[Export] = []
    rs = next(slices)
    exports.append(Export("clean.json", json_lines(rs), rows(rs)))
    rs = next(slices)
    exports.append(Export("concatenated.json", concatenated(rs), rows(rs)))
    rs = next(slices)
    exports.append(Export("comma_lines.json", comma_lines(rs), rows(rs)))
    rs = next(slices)
    exports.append(Export("pretty_array.json", pretty_array(rs), rows(rs)))
    rs = next(slices)
    exports.append(Export("crlf.json", crlf(json_lines(rs)), rows(rs)))
    rs = next(slices)
    exports.append(Export("bom.json", bom(json_lines(rs)), rows(rs)))
    rs = next(slices)
    exports.append(
        Export(
            "truncated.json",
            json_lines(rs[:-1]) + cut(dumps(rs[-1])),
            rows(rs[:-1]),
            Counter(truncated=1),
        )
    )
    rs = next(slices)
    lines = [dumps(r) for r in rs]
    for k, junk in enumerate(NOT_JSON_LINES):
        lines.insert(1 + 3 * k, junk)
    exports.append(
        Export(
            "not_json.json",
            "\n".join(lines) + "\n",
            rows(rs),
            Counter(not_json=len(NOT_JSON_LINES)),
        )
    )
    rs = next(slices)
    exports.append(
        Export("key_drift.json", json_lines([drift_keys(source, r) for r in rs]), rows(rs))
    )
    rs = next(slices)
    exports.append(
        Export("float_numbers.json", json_lines([float_numbers(source, r) for r in rs]), rows(rs))
    )
    if source == "customer":
        rs = next(slices)
        exports.append(
            Export("phone_number.json", json_lines([phone_as_number(r) for r in rs]), rows(rs))
        )
        rs = next(slices)
        exports.append(
            Export(
                "explicit_nulls.json", json_lines([explicit_nulls(source, r) for r in rs]), rows(rs)
            )
        )
    rs = next(slices)
    unusable = [without_required(source, r, k) for k, r in enumerate(rs[:3])]
    exports.append(
        Export(
            "missing_required.json",
            json_lines(unusable + rs[3:]),
            rows(rs[3:]),
            Counter(missing_required_field=len(unusable)),
        )
    )
    rs = next(slices)
    exports.append(
        Export(
            "bad_type.json",
            json_lines([with_bad_type(source, r) for r in rs[:2]] + rs[2:]),
            rows(rs[2:]),
            Counter(bad_type=2),
        )
    )
    rs = next(slices)
    # Copies of three records, one of them written differently (same canonical record).
    copies = [rs[0], rs[1], float_numbers(source, drift_keys(source, rs[2]))]
    exports.append(
        Export("duplicates.json", json_lines(rs + copies), rows(rs), duplicates=len(copies))
    )
    if source == "customer":
        rs = next(slices)
        # An older version before the newer one, and one after it: the latest lastUpdateDate wins.
        text = json_lines([older_version(rs[0])] + rs + [older_version(rs[1])])
        exports.append(Export("superseded.json", text, rows(rs), Counter(superseded=2)))
    rs = next(slices)
    exports.append(Export("gzipped.json.gz", json_lines(rs), rows(rs), gzip=True))
    rs = next(slices)
    exports.append(Export("in_landing_folder.json", json_lines(rs), rows(rs), folder="landing"))
    return exports


def mixed_exports(
    source: str, records: list[Record], files: int = 4, csv_files: int = 3
) -> list[Export]:
    """Every defect at once: files that each mix layouts, drift and unusable records.

    Each of `files` JSON files holds a share of `records`, in segments: JSON lines with
    CRLF after a byte-order mark, objects run together, comma-separated, a pretty-printed
    array, with drifted keys and float numbers, junk lines, unusable records, duplicates,
    for customers older versions, and a truncated record at the end. One file is
    gzipped and one is in the `landing/` folder. Each of `csv_files` CSV files holds a
    share too, in its own dialect (csv_fixtures.mixed_csv_export).
    """
    from csv_fixtures import mixed_csv_export  # it builds on this module

    exports: list[Export] = []
    share = -(-len(records) // (files + csv_files))
    for f in range(files):
        part = records[f * share : (f + 1) * share]
        if not part:
            break
        quarter = -(-len(part) // 4)
        segments = [part[i * quarter : (i + 1) * quarter] for i in range(4)]
        landed = [canonical(source, r) for r in part]
        reasons: Counter = Counter()
        duplicates = 0
        if source == "customer":
            drifted = [explicit_nulls(source, phone_as_number(r)) for r in segments[1]]
        else:
            drifted = segments[1]
        drifted = [float_numbers(source, drift_keys(source, r)) for r in drifted]
        text = bom(crlf(json_lines(segments[0])))
        text += "garbage line that is not JSON\n"
        reasons["not_json"] += 1
        text += concatenated(drifted) + "\n"
        extra = [with_bad_type(source, part[0]), without_required(source, part[-1], f)]
        reasons.update(bad_type=1, missing_required_field=1)
        if segments[2]:
            copies = segments[2][:2]
            duplicates += len(copies)
            text += comma_lines(extra + segments[2] + copies)
        else:
            text += comma_lines(extra)
        if source == "customer" and segments[3]:
            text += pretty_array([older_version(segments[3][0])] + segments[3])
            reasons["superseded"] += 1
        else:
            text += pretty_array(segments[3])
        text += cut(dumps(part[0]))
        reasons["truncated"] += 1
        exports.append(
            Export(
                f"mixed-{f}.json" + (".gz" if f == 1 else ""),
                text,
                landed,
                reasons,
                duplicates,
                folder="landing" if f == 2 else "",
                gzip=f == 1,
            )
        )
    # A record the landing-folder JSON file lands: its copy in each CSV file (whose path comes
    # later) is a duplicate across formats.
    landing_file = records[2 * share : 3 * share] if files > 2 else []
    copied = landing_file[1] if len(landing_file) > 1 else None
    for c in range(csv_files):
        part = records[(files + c) * share : (files + c + 1) * share]
        if len(part) >= 2:
            exports.append(mixed_csv_export(source, part, c, copied))
    return exports


def tree_fingerprint(root: Path) -> dict[str, tuple]:
    """Every file and folder under root: content hash, size and modification time."""
    import hashlib

    found: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        stat = path.stat()
        if path.is_file():
            found[str(path)] = (
                "file",
                hashlib.sha256(path.read_bytes()).hexdigest(),
                stat.st_size,
                stat.st_mtime_ns,
            )
        else:
            found[str(path)] = ("dir", stat.st_mtime_ns)
    return found
