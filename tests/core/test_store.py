"""stedi.core.intake.record_store on both engines: new files' records decided against the ones
stored before."""

from __future__ import annotations

import pytest

from engines import on
from stedi.core.intake.classify import DUPLICATE, LANDED, QUARANTINED
from stedi.core.intake.ledger import Plan
from stedi.core.intake.record_store import keys_hash, landing_mode, seen_before

ENGINES = ("spark", "sail")
DECIDED = (
    "user string, timestamp bigint, x double, y double, z double, status string, reason "
    "string, source_file string, position bigint"
)
STORED = "user string, timestamp bigint, x double, y double, z double, reason string, kind string"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_new_record_whose_values_an_earlier_file_holds_is_a_duplicate(sessions, engine):
    old = [
        ("a@x.com", 1, -0.0, None, 1.0, None, "record"),  # usable: -0.0 is 0.0, null equals null
        ("b@x.com", 2, 1.0, 1.0, 1.0, "bad_type", "record"),  # not usable: does not make a copy
    ]
    new = [
        ("a@x.com", 1, 0.0, None, 1.0, LANDED, None, "/new.json", 1),
        ("b@x.com", 2, 1.0, 1.0, 1.0, LANDED, None, "/new.json", 2),
        ("a@x.com", 1, 0.0, 0.0, 1.0, LANDED, None, "/new.json", 3),  # y differs
        ("c@x.com", 3, 1.0, 1.0, 1.0, QUARANTINED, "not_json", "/new.json", 4),
    ]
    with on(engine):
        spark = sessions[engine]
        decided = seen_before(
            spark.createDataFrame(new, DECIDED), spark.createDataFrame(old, STORED), "accelerometer"
        )
        got = {r["position"]: r["status"] for r in decided.collect()}
    assert got == {1: DUPLICATE, 2: LANDED, 3: LANDED, 4: QUARANTINED}


def _plan(new=(), changed=(), unchanged=("/a.json",), full=False) -> Plan:
    plan = Plan(
        "accelerometer",
        sorted({*new, *changed, *unchanged}),
        list(new),
        list(changed),
        list(unchanged),
        full=full,
    )
    plan.entries = {p: {"key": f"k{p}"} for p in plan.files}
    return plan


def test_a_landing_table_is_kept_added_to_or_decided_whole():
    base = {"keys": keys_hash(["k/a.json"])}
    assert landing_mode("accelerometer", _plan(), base, None) == "keep"
    assert landing_mode("accelerometer", _plan(new=["/b.json"]), base, None) == "append"
    # Customers are decided whole: a new file may hold a later record of a known customer.
    assert landing_mode("customer", _plan(new=["/b.json"]), base, None) == "full"
    assert (
        landing_mode("accelerometer", _plan(changed=["/a.json"], unchanged=()), base, None)
        == "full"
    )
    assert landing_mode("accelerometer", _plan(new=["/b.json"], full=True), base, None) == "full"
    # The table holds something else than the files before this run (a run killed after writing it).
    assert (
        landing_mode(
            "accelerometer",
            _plan(new=["/b.json"]),
            {"keys": keys_hash(["k/a.json", "k/b.json"])},
            None,
        )
        == "full"
    )
    assert landing_mode("accelerometer", _plan(new=["/b.json"]), None, None) == "full"


def test_files_parsed_a_few_per_write_land_as_in_one_write(sail, tmp_path, monkeypatch):
    """The store is written a few files per write (record_store.STORE_BATCH): a clean file, a file
    to repair and a duplicate across two writes give the landing of a single write."""
    import intake_fixtures as fx
    from stedi.core import intake
    from stedi.core.intake import record_store
    from stedi.core.intake.ledger import Ledger

    records = fx.real_records("accelerometer", 40)
    folder = tmp_path / "raw" / "accelerometer"
    folder.mkdir(parents=True)
    (folder / "a.json").write_text(fx.json_lines(records[:15]))
    (folder / "b.json").write_text(fx.concatenated(records[15:30]))  # the repair path
    (folder / "c.json").write_text(
        fx.json_lines(records[30:] + records[:2])
    )  # 2 copies of a.json's

    def landing(batch: int, lake) -> tuple[list, dict]:
        monkeypatch.setattr(record_store, "STORE_BATCH", batch)
        with on("sail"):
            result = intake.land_source(
                sail, tmp_path / "raw", "accelerometer", ledger=Ledger(lake)
            )
            rows = sorted(tuple(r) for r in result.landed.collect())
            accounting = {k: v for k, v in result.accounting().items() if k != "seconds"}
            result.unpersist()
        return rows, accounting

    one_write = landing(100, tmp_path / "lake-1")
    assert landing(1, tmp_path / "lake-3") == one_write
    assert (
        len(one_write[0]) == 40
        and one_write[1]["duplicates_dropped"] == 2
        and one_write[1]["repaired_files"] == 1
    )
    assert len(list((tmp_path / "lake-3" / "_intake" / "accelerometer").glob("file=*"))) == 3
