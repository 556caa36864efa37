"""What a lake table's Iceberg snapshots say (mixed into stedi.lake.iceberg.IcebergLake): a
snapshot's summary, the current row count, and the table's history, to find the snapshot it
had after a given run (`as_of`; the commands built on them: stedi.lake.history)."""

from __future__ import annotations

from stedi.errors import UsageError

# Snapshot summary properties (strings) naming what made a snapshot.
RUN_ID, STEP, POLICY = "stedi.run-id", "stedi.step", "stedi.policy"
META_PREFIX = "stedi."


class SnapshotHistory:
    """The summaries and history of the lake's tables (IcebergLake: `table`, `place`,
    `snapshot_id`)."""

    # -- what is there ---------------------------------------------------------------
    def summary(self, name: str, snapshot_id: int | None = None) -> dict:
        """The summary of a snapshot (default: the current one) as a dict; {} when the table has
        none."""
        t = self.table(name)
        s = (
            None
            if t is None
            else (t.current_snapshot() if snapshot_id is None else t.snapshot_by_id(snapshot_id))
        )
        if s is None:
            return {}
        return {"operation": str(s.summary.operation.value), **s.summary.additional_properties}

    def rows(self, name: str) -> int:
        """Rows of table `name`'s current snapshot, from its summary (no engine job)."""
        return int(self.summary(name).get("total-records", 0))

    def described(self, name: str) -> dict:
        place = self.place(name)
        return {
            "table": name,
            "zone": place.zone,
            "rows": self.rows(name),
            "snapshot_id": self.snapshot_id(name),
            "path": place.location,
        }

    def history(self, name: str) -> list[dict]:
        """The snapshots of table `name`, oldest first: id, time, run id, step, operation, rows
        added/deleted/total."""
        t = self.table(name)
        if t is None:
            return []
        found = []
        for s in sorted(t.snapshots(), key=lambda s: (s.timestamp_ms, s.sequence_number or 0)):
            props = s.summary.additional_properties
            found.append(
                {
                    "snapshot_id": s.snapshot_id,
                    "timestamp_ms": s.timestamp_ms,
                    "run_id": props.get(RUN_ID, ""),
                    "step": props.get(STEP, ""),
                    "policy": props.get(POLICY, ""),
                    "operation": str(s.summary.operation.value),
                    "rows_added": int(props.get("added-records", 0)),
                    "rows_deleted": int(props.get("deleted-records", 0)),
                    "rows_total": int(props.get("total-records", 0)),
                }
            )
        return found

    def as_of(self, name: str, run_id: str, runs: list[str] | None = None) -> int | None:
        """The snapshot of `name` as it stood after run `run_id`: the latest snapshot committed by
        that run or before it. Runs are ordered by `runs` (oldest first) when given, else by their
        ids (run ids are timestamps) ; None when the table had no snapshot yet."""
        order = {r: i for i, r in enumerate(runs)} if runs is not None else None
        if order is not None and run_id not in order:
            raise UsageError(f"unknown run {run_id!r}")

        def at_or_before(other: str) -> bool:
            if order is not None:
                return other in order and order[other] <= order[run_id]
            return other <= run_id

        chosen = None
        for entry in self.history(name):
            if entry["run_id"] and at_or_before(entry["run_id"]):
                chosen = entry["snapshot_id"]
        return chosen
