"""Whether a zone step's tables are up to date: what a run with nothing new skips.

A step's *fingerprint* is a hash of everything its output depends on:

- the run's policy;
- the code: the declared tables and quality rules (stedi.core.tables, schemas, quality),
  the step's transform module, or for the intake the modules that read and decide
  records, and the step's notebook;
- its inputs: for the intake, the ledger's state of every source (the live files' store
  keys: a new, changed or erased file changes it) and the erasure requests; for the other
  steps, the version of every table the step reads (its current Iceberg snapshot id).

When a step finishes, it records its fingerprint and the versions of the tables it wrote
in `<lake>/_intake/steps.json`, with what a report of the lake needs when the step is later
skipped: the run that built the tables, their intake accounting and their quality results
(`built`). Before running a step, the runner computes the fingerprint
from the lake as it is now: when it equals the recorded one and the step's tables are still
at the recorded versions, the step is skipped ("up to date"). So a new raw file reruns the
intake and then every step whose inputs got a new version; a policy change or an edited
transform reruns the steps it affects; a run with nothing new runs nothing. `--full`
skips nothing. A table whose current snapshot misses a data file (damaged) has no version: the
step that writes it runs again and rebuilds it whole. An S3 lake's tables are read from its Glue
database (`--database`).
"""

from __future__ import annotations

import hashlib
import json

from stedi import config
from stedi.core import storage
from stedi.core.code_source import add_sources
from stedi.core.tables import SOURCES, table
from stedi.lake import icelake, layout
from stedi.lake.icelake import table_rows, table_version
from stedi.run import pipeline

STEPS_FILE = "_intake/steps.json"


def code_fingerprint(step) -> str:
    """The code a step's tables depend on (see the module docstring)."""
    from stedi.core.intake.ledger import intake_fingerprint

    digest = hashlib.sha256()
    modules = [
        "stedi.core.tables",
        "stedi.core.schemas",
        "stedi.core.quality.table_rules",
        "stedi.core.quality.rules_of",
        "stedi.core.quality.rules",
        "stedi.core.quality.kinds",
        "stedi.core.quality.checks",
        "stedi.core.quality.evaluation",
        "stedi.core.quality.appended",  # the results of an append's check, merged
    ]
    if step.transform:
        modules.append(step.transform.partition(":")[0])
    add_sources(digest, modules)
    if step.sources:
        digest.update(intake_fingerprint().encode("utf-8"))
    if step.notebook.is_file():
        digest.update(step.notebook.read_bytes())
    return digest.hexdigest()[:16]


def inputs_of(
    step, lake_root: str, ledger=None, erasures=None, database: str = config.DEFAULT_DATABASE
) -> dict | None:
    """What the step reads, as versions (an S3 lake's: snapshot ids in the Glue database
    `database`); None when it cannot be told (a table missing)."""
    if step.sources:
        from stedi.core.intake.erasure import Erasures
        from stedi.core.intake.ledger import Ledger

        ledger = ledger or Ledger(lake_root)
        erasures = erasures if erasures is not None else Erasures.load(lake_root)
        return {
            **{f"raw/{source}": ledger.state(source) for source in step.sources},
            "erasures": erasures.fingerprint() if erasures else "",
        }
    versions = {name: table_version(lake_root, name, database) for name in step.reads}
    return None if None in versions.values() else versions


def fingerprint(step, policy: str, inputs: dict) -> str:
    text = json.dumps(
        {"step": step.name, "policy": policy, "code": code_fingerprint(step), "inputs": inputs},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _recorded(lake_root: str) -> dict:
    text = storage.read_text(f"{lake_root}/{STEPS_FILE}")
    return json.loads(text) if text else {}


def record_built(
    step,
    lake_root: str,
    policy: str,
    ledger=None,
    erasures=None,
    built: dict | None = None,
    database: str = config.DEFAULT_DATABASE,
) -> None:
    """Record that `step` just wrote its tables (called when the step finishes); `built`: the run
    that wrote them ("run", its id, "" outside a run), their "intake" accounting and "quality"
    results."""
    inputs = inputs_of(step, lake_root, ledger, erasures, database)
    if inputs is None:
        return
    steps = _recorded(lake_root)
    steps[step.name] = {
        "fingerprint": fingerprint(step, policy, inputs),
        "outputs": {name: table_version(lake_root, name, database) for name in step.writes},
        **({"built": built} if built is not None else {}),
    }
    storage.write_text(
        f"{lake_root}/{STEPS_FILE}", json.dumps(steps, indent=1, sort_keys=True) + "\n"
    )


def up_to_date(
    step, lake_root: str, policy: str, raw_dir: str = "", database: str = config.DEFAULT_DATABASE
) -> bool:
    """Whether running `step` now would write the tables it wrote last (see the module
    docstring)."""
    recorded = _recorded(lake_root).get(step.name)
    if not recorded or not step.writes:
        return False
    if any(
        table_version(lake_root, name, database) != version
        for name, version in recorded["outputs"].items()
    ):
        return False
    ledger = None
    if step.sources:
        from stedi.core.intake.ledger import Ledger
        from stedi.core.raw_files import raw_files, reported_path

        ledger = Ledger(lake_root)
        if ledger.stale:
            return False
        for source in step.sources:
            plan = ledger.plan(source, [reported_path(p) for p in raw_files(raw_dir, source)])
            if plan.todo:
                return False
        from stedi.core.intake.erasure import Erasures

        if Erasures.load(lake_root).pending:
            return False
    inputs = inputs_of(step, lake_root, ledger, database=database)
    return inputs is not None and fingerprint(step, policy, inputs) == recorded["fingerprint"]


def forget_erased_history(options, ran: set[str]) -> list[str]:
    """After a succeeded run, when an erasure's history is still to forget (stedi.lake.icelake.
    mark_history_to_forget): once no zone step's tables can hold an erased customer, that is every
    step either in `ran` (the run's succeeded steps, skipped ones included) or up to date now and
    after no step that is not, expire every older snapshot and delete the files nothing reaches.
    Otherwise (a run of part of the pipeline: `--only`, `--from`) the history stays for a later
    run. Returns the steps whose tables may still hold an erased customer ([] when none)."""
    if not icelake.history_to_forget(options.lake):
        return []
    behind: list[str] = []
    for step in pipeline.ZONE_STEPS:
        after_behind = any(pipeline.producer(name).name in behind for name in step.reads)
        if step.name not in ran and (
            after_behind
            or not up_to_date(step, options.lake, options.policy, options.raw, options.database)
        ):
            behind.append(step.name)
    if not behind:
        # Every table is rebuilt without the erased customers: no older snapshot, and no file
        # only older snapshots reached, may keep them (time travel stops here).
        icelake.forget_history(options.lake, options.database)
    return behind


def missing_files(lake_root: str, raw_dir: str) -> dict[str, list[str]]:
    """Per source, the files the ledger holds that are no longer in the raw folder."""
    from stedi.core.intake.ledger import Ledger
    from stedi.core.raw_files import raw_files, reported_path

    ledger = Ledger(lake_root)
    found = {}
    for source in SOURCES:
        listed = {reported_path(p) for p in raw_files(raw_dir, source)}
        gone = sorted(set(ledger.sources.get(source, {})) - listed)
        if gone:
            found[source] = gone
    return found


# What a step's record says of one run only, left out when its results are carried to a later run.
PER_RUN_KEYS = ("run", "seconds")


def built(step, lake_root: str) -> dict:
    """What the last run of `step` recorded of the tables it built (see `record`): "run", "intake",
    "quality"; the intake without what describes that run only (its files, its duration). {} when
    nothing was recorded (a lake from before these were)."""
    found = (_recorded(lake_root).get(step.name) or {}).get("built") or {}
    if not found:
        return {}
    intake = {
        # the quarantine's place in this lake (it may be a copy of the one the run built)
        name: {k: v for k, v in accounting.items() if k not in PER_RUN_KEYS}
        | (
            {"quarantine_path": layout.quarantine_path(lake_root, name)}
            if "quarantine_path" in accounting
            else {}
        )
        for name, accounting in _in_lake_order(found.get("intake") or {}).items()
    }
    return {
        "run": found.get("run"),
        "intake": intake,
        "quality": _in_lake_order(found.get("quality") or {}),
    }


def _in_lake_order(per_table: dict) -> dict:
    """`per_table` with its tables in the declared order (steps.json keeps its keys sorted)."""
    from stedi.core.tables import TABLES

    return {name: per_table[name] for name in TABLES if name in per_table} | per_table


def current_tables(
    step, lake_root: str, run: str | None = None, database: str = config.DEFAULT_DATABASE
) -> dict:
    """The step's tables as they are (for the record of a skipped step): zone, rows, snapshot id,
    path, and `run`, the run that built them (None: unknown). `rows` is None when the table's count
    cannot be read."""
    tables = {}
    for name in step.writes:
        version = table_version(lake_root, name, database)
        tables[name] = {
            "table": name,
            "zone": table(name).zone,
            "rows": table_rows(lake_root, name, database),
            "snapshot_id": int(version) if version and version.isdigit() else None,
            "path": layout.table_path(lake_root, name),
            "run": run,
        }
    return tables


def skipped_entry(
    step, lake_root: str, previous: dict | None = None, database: str = config.DEFAULT_DATABASE
) -> dict:
    """The run's entry of `step`, skipped as up to date: its tables as they are, and the intake
    accounting and quality results recorded when they were built, with "run", the run that built
    them (None: unknown). A lake from before these were recorded: the previous run's (manifest
    `previous`), when it was of this lake. A skipped analysis names the run whose analysis is the
    latest."""
    from stedi.run.pipeline import ANALYSIS

    same_lake = previous is not None and previous.get("lake_dir") == lake_root
    if step.kind == ANALYSIS:
        found = {"run": _analysis_run(previous) if same_lake else None}
    else:
        found = built(step, lake_root)
        if not found and same_lake:
            found = {
                "run": None,
                "intake": {
                    t: {k: v for k, v in acc.items() if k not in PER_RUN_KEYS}
                    for t, acc in (previous.get("intake") or {}).items()
                    if t in step.writes
                },
                "quality": {
                    t: rs for t, rs in (previous.get("quality") or {}).items() if t in step.writes
                },
            }
    run = found.get("run")
    record = {
        "step": step.name,
        "status": "succeeded",
        "tables": current_tables(step, lake_root, run, database),
        "intake": found.get("intake") or {},
        "quality": found.get("quality") or {},
    }
    entry = {
        "name": step.name,
        "notebook": "",
        "status": "succeeded",
        "skipped": "up to date",
        "seconds": 0.0,
    }
    return {**entry, "run": run, "record": record}


def _analysis_run(previous: dict) -> str | None:
    """The run whose analysis is the latest, as the previous run's manifest tells it."""
    from stedi.run.pipeline import ANALYSIS, STEPS

    for entry in previous.get("steps") or []:
        if STEPS.get(entry.get("name")) is not None and STEPS[entry["name"]].kind == ANALYSIS:
            if entry.get("skipped"):
                return entry.get("run")
            return previous.get("run_id") if entry.get("status") == "succeeded" else None
    return None
