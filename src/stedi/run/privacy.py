"""Privacy in a run: consent changes (who entered or left the consented tables, and the rows each
change moved), and erasure requests (applied by the intake, marked done).

The step that writes `customer_trusted` compares its new version with the current one; every
step that writes a trusted or curated table then counts, per changed customer, the rows of
its table before and after. Customers are named by a keyed hash of their email under the lake's
key (stedi.core.intake.erasure), never by their address.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

from stedi.run import faults
from stedi.run.folder import RunFolder

# The column naming the customer in each trusted and curated table: an email, or the serial
# number of the customer's device. Consent changes are counted through it (consent_changes).
SUBJECTS = {
    "customer_trusted": "email",
    "accelerometer_trusted": "user",
    "customer_curated": "email",
    "step_trainer_trusted": "serialNumber",
    "machine_learning_curated": "serialNumber",
}
# The step whose table decides consent: it finds who entered and who left.
CONSENT_TABLE = "customer_trusted"


def consent_changes(
    lake, table: str, staged, known: dict | None, run_dir: str | None
) -> dict | None:
    """The run's consent record once `table` is published as `staged`: who entered and who left
    `customer_trusted` in this run (found by its step), and for every trusted and curated table the
    rows of each of them before and after. `known`: the record so far in this step (None at first);
    returned as it is for a table that counts no subject.

    Customers are named by a pseudonym, a keyed hash of their email under the lake's key
    (stedi.core.intake.erasure): no address goes into the run record. A customer who left
    because of an erasure request is marked so.
    """
    if table not in SUBJECTS or not lake.exists(table):
        return known
    from stedi.core.intake import erasure, erasure_sql

    new, old = lake.read_staged(staged), lake.read(table)
    if table == CONSENT_TABLE:
        key = erasure.lake_key(lake.root)
        erased = erasure.Erasures.load(lake.root).email_hashes
        changes: dict[str, list] = {}
        for change, (a, b) in {"entered": (new, old), "left": (old, new)}.items():
            rows = (
                a.select("email", "serialNumber")
                .join(b.select("email"), "email", "left_anti")
                .collect()
            )
            changes[change] = []
            for row in rows:
                email_hash = erasure.keyed_hash(key, erasure.normalize_email(row["email"]))
                serial = row["serialNumber"]
                changes[change].append(
                    {
                        "id": email_hash[:12],
                        "email_hash": email_hash,
                        "serial_hash": erasure.keyed_hash(key, erasure.normalize_serial(serial))
                        if serial
                        else "",
                        "why": "erased"
                        if email_hash in erased
                        else ("consented" if change == "entered" else "withdrew"),
                    }
                )
        consent = {"changes": changes, "rows": {}}
    elif known is None:
        from stedi.run.pipeline import producer

        record = RunFolder(run_dir).read_record(producer(CONSENT_TABLE).name) if run_dir else None
        found = ((record or {}).get("consent") or {}).get("changes")
        consent = {"changes": found, "rows": {}} if found else {}
    else:
        consent = {**known, "rows": dict(known.get("rows") or {})} if known else known
    changes = (consent or {}).get("changes") or {}
    people = [p for group in changes.values() for p in group]
    if not people:
        return consent
    column = SUBJECTS[table]
    key = erasure.lake_key(lake.root)
    by_serial = column == "serialNumber"
    wanted = {
        p["serial_hash"] if by_serial else p["email_hash"]: p["id"]
        for p in people
        if (p["serial_hash"] if by_serial else p["email_hash"])
    }
    if not wanted:
        return consent
    hashed = (erasure_sql.serial_hash_sql if by_serial else erasure_sql.hash_sql)(
        f"`{column}`", key
    )
    in_list = ", ".join(f"'{h}'" for h in sorted(wanted))

    def counts(frame: DataFrame) -> dict[str, int]:
        rows = (
            frame.selectExpr(f"{hashed} AS h")
            .where(f"h IN ({in_list})")
            .groupBy("h")
            .count()
            .collect()
        )
        return {wanted[r["h"]]: int(r["count"]) for r in rows}

    before, after = counts(old), counts(new)
    consent["rows"][table] = {
        i: [before.get(i, 0), after.get(i, 0)] for i in sorted(set(wanted.values()))
    }
    return consent


def erasures_to_apply(spark, lake_root: str, raw_dir: str, ledger, *, full: bool, run_id: str):
    """The lake's erasure requests, with the serial numbers of the erased customers' devices; None
    when there is none.

    Those are read from every customer record landed (all versions, the files new in
    this run parsed first), and kept in the registry, hashed.
    """
    from stedi.core.intake import erasure, erasure_sql
    from stedi.core.intake.landing import prepare_source, read_store

    erasures = erasure.Erasures.load(lake_root)
    if not erasures:
        return None
    plan = prepare_source(spark, raw_dir, "customer", ledger, full=full, run_id=run_id)
    serials = erasure_sql.serials_of(read_store(spark, ledger, "customer", plan), erasures)
    if set(serials) - erasures.serial_hashes:
        # Saved into the registry as it is now (a request may have come since `load`: this run
        # applies only the requests it loaded, whose serials it found).
        erasure.Erasures.update(lake_root, lambda current: current.with_serials(serials))
        erasures = erasures.with_serials(serials)
    return erasures


def mark_erasures_done(
    lake_root: str, erasures, run_id: str, erased_rows: dict[str, int]
) -> list[dict]:
    """Mark the requests applied in this run done, with `erased_rows` (rows erased per landing
    table); returns them as the run record lists them (ids and rows, no address)."""
    pending = list(erasures.pending)
    if not pending:
        return []

    def mark(current):
        # The registry as it is now: requests made while this run worked stay pending for the next.
        for request in pending:
            current.mark_done(request["id"], run_id, erased_rows)
        return current

    from stedi.core.intake import erasure
    from stedi.lake.icelake import mark_history_to_forget

    mark_history_to_forget(lake_root, run_id)  # before the requests are done: a kill leaves it
    erasure.Erasures.update(lake_root, mark)
    faults.kill_point("commit:registry")  # tests only
    return [{"id": r["id"], "rows": erased_rows} for r in pending]
