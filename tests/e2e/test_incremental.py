"""Days of exports: incremental runs equal a full rebuild; re-delivery, consent changes, erasure,
resume.

Three days built from the real exports: day 1 the customer file and the first readings
files, day 2 the rest of the readings, day 3 a customer update file (one customer
withdraws consent, one consents late) and a re-delivered readings file. After each
incremental run the lake holds, table by table and quarantine by quarantine, what a
`--full` rebuild of the same raw folder gives.

The same days check the Iceberg lake's own promises (they were tests/test_iceberg_days.py,
which ran the same days again on a lake of its own): a day that changes a table adds a
snapshot and the earlier one still holds the previous day's rows; every snapshot names the run
and step that made it; `stedi history` and `stedi sql --as-of` show them; a damaged table (a
data file of its current snapshot deleted) and a landing table whose quarantine a killed run
did not commit are rebuilt by the next plain run; a run that applied an erasure forgets the
history at its end, so that no file, decoded, holds the customer.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from engines import on
from lake_files import holding
from lakes import (
    STEDI,
    ZONE_STEPS_ONLY,
    fingerprints,
    kill_everything,
    start_run,
    stedi_run,
    wait_for,
)
from stedi import config
from stedi.core.intake import erasure
from stedi.core.tables import SOURCES, landing_table
from stedi.lake import icefiles
from stedi.lake.catalogs import forget_catalogs
from stedi.lake.icelake import IcebergTables
from stedi.run.folder import RunFolder

# Its own lake, days apart; day 2 completes the real exports, so the full rebuild it is compared
# with is the session's clean strict build: on the builds' worker (tests/conftest.py).
pytestmark = [pytest.mark.e2e]

RAW = config.RAW_DIR
# The trusted and curated tables of a strict build of the real exports (README, "Row counts").
STRICT_COUNTS = {
    "customer_trusted": 482,
    "accelerometer_trusted": 32_025,
    "customer_curated": 464,
    "step_trainer_trusted": 11_297,
    "machine_learning_curated": 32_025,
}


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _files(source: str) -> list[Path]:
    return sorted((RAW / source).glob("*.json"))


def _people():
    """A consenting customer with readings and a device with readings (withdraws on day 3), and a
    customer without consent who has readings (consents on day 3)."""
    customers = [r for f in _files("customer") for r in _records(f)]
    users = {r["user"] for f in _files("accelerometer") for r in _records(f)}
    serials = {r["serialNumber"] for f in _files("step_trainer") for r in _records(f)}
    emails = [c["email"] for c in customers]
    once = [c for c in customers if emails.count(c["email"]) == 1]
    withdraws = next(
        c
        for c in once
        if c["shareWithResearchAsOfDate"] and c["email"] in users and c["serialNumber"] in serials
    )
    consents = next(
        c for c in once if not c.get("shareWithResearchAsOfDate") and c["email"] in users
    )
    return withdraws, consents, max(c["lastUpdateDate"] for c in customers)


def _day(raw: Path, day: int) -> None:
    """Make `raw` hold the exports of days 1..`day`."""
    accel, steps = _files("accelerometer"), _files("step_trainer")
    for source in SOURCES:
        (raw / source).mkdir(parents=True, exist_ok=True)
    if day == 1:
        shutil.copy(_files("customer")[0], raw / "customer")
        for f in accel[:4] + steps[:1]:
            shutil.copy(f, raw / f.parent.name)
    if day == 2:
        for f in accel[4:] + steps[1:]:
            shutil.copy(f, raw / f.parent.name)
    if day == 3:
        withdraws, consents, latest = _people()
        update = [
            {**withdraws, "lastUpdateDate": latest + 1000, "shareWithResearchAsOfDate": None},
            {
                **consents,
                "lastUpdateDate": latest + 1000,
                "shareWithResearchAsOfDate": consents["registrationDate"],
            },
        ]
        (raw / "customer" / "customer-update-day3.json").write_text(
            "".join(json.dumps(r) + "\n" for r in update)
        )
        # A re-delivery: the first readings file again under its name, without its last 50 records.
        first = raw / "accelerometer" / accel[0].name
        first.write_text("".join(line + "\n" for line in first.read_text().splitlines()[:-50]))


def _lake_content(session, lake: Path) -> dict:
    """Every table's fingerprint, and every quarantine's (rows, hash of its reasons and texts)."""
    found = fingerprints(session, lake)
    store = IcebergTables(session, str(lake))
    for source in SOURCES:
        name = landing_table(source)
        if Path(store.quarantine_path(name)).exists():
            q = store.read_quarantine(name)
            row = q.agg(
                F.count(F.lit(1)), F.sum(F.xxhash64("reason", "raw").cast("decimal(38,0)"))
            ).first()
            found[f"quarantine/{name}"] = (row[0], int(row[1] or 0))
    return found


class _FullRebuild:
    """A `--full` rebuild of `raw` as it is now (with `lake_to_copy`: on a copy of that lake, for
    its erasure requests), started at once in the background: the scenario goes on meanwhile (the
    rebuild reads a copy of the raw folder, which the scenario changes next); `content()` waits
    for it and gives the rebuilt lake's content."""

    def __init__(self, raw: Path, tmp: Path, name: str, lake_to_copy: Path | None = None):
        frozen = shutil.copytree(raw, tmp / f"raw-{name}")
        self.lake = tmp / f"full-{name}"
        if lake_to_copy is not None:
            shutil.copytree(lake_to_copy, self.lake, symlinks=True)
        self.proc = start_run(
            self.lake,
            tmp / f"runs-full-{name}",
            "--raw-dir",
            str(frozen),
            "--full",
            *ZONE_STEPS_ONLY,
        )
        _BACKGROUND.append(self.proc)

    def content(self, session) -> dict:
        out, err = self.proc.communicate(timeout=900)
        assert self.proc.returncode == 0, out + err
        return _lake_content(session, self.lake)


_BACKGROUND: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_rebuild_left_running():
    """A failed test leaves no background rebuild running."""
    yield
    while _BACKGROUND:
        proc = _BACKGROUND.pop()
        if proc.poll() is None:
            kill_everything(proc)
        proc.communicate()


def _operations(lake: Path, name: str) -> list[str]:
    """The operations of table `name`'s snapshots, oldest first."""
    from stedi.lake.catalogs import forget_catalogs
    from stedi.lake.iceberg import IcebergLake

    forget_catalogs()  # another process committed: read the catalog afresh
    return [h["operation"] for h in IcebergLake(None, str(lake)).history(name)]


def _manifest(runs: Path) -> dict:
    return RunFolder.latest(runs).read_manifest()


def _lake(session, lake: Path) -> IcebergTables:
    forget_catalogs()  # another process committed: read the catalog afresh
    opened = IcebergTables(session, str(lake))
    assert isinstance(opened, IcebergTables)
    return opened


def _stedi(*args, code: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run([*STEDI, *args], capture_output=True, text=True, cwd=config.PROJECT_ROOT)
    assert done.returncode == code, done.stdout + done.stderr
    return done


@pytest.fixture(autouse=True)
def fresh_catalogs():
    yield
    forget_catalogs()


@pytest.fixture
def session(sail):
    """The lakes are read by Sail (about ten times faster than classic Spark on these tables), with
    PySpark building Spark Connect columns for the whole test (tests/engines.py)."""
    with on("sail"):
        yield sail


def test_three_days_incremental_equals_full_rebuild_then_erasure(tmp_path, session, clean_builds):
    raw, lake, runs = tmp_path / "raw", tmp_path / "lake", tmp_path / "runs"
    withdraws, consents, _ = _people()

    # Day 1 (a first run: every file new, every table decided whole), then day 2 (killed
    # between steps, resumed): equal to a full rebuild. Day 2's raw folder holds every file of
    # data/raw, so that rebuild is the session's clean strict build (its analysis writes no table).
    _day(raw, 1)
    stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    first = _manifest(runs)["intake"]["accelerometer_landing"]["run"]
    assert (first["new"], first["changed"], first["unchanged"], first["mode"]) == (4, 0, 0, "full")
    day1 = _lake(session, lake)
    day1_run = _manifest(runs)["run_id"]
    day1_rows = day1.rows("accelerometer_landing")
    day1_snapshot = day1.lake.snapshot_id("accelerometer_landing")

    _day(raw, 2)
    names = [sorted(p.name for p in folder.rglob("*.json")) for folder in (raw, RAW)]
    assert names[0] == names[1]
    day1 = RunFolder.latest(runs).run_id
    proc = start_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    wait_for(lambda: _finished(runs, besides=day1) >= 1, proc)
    kill_everything(proc)
    resumed = stedi_run(lake, runs, "--resume")
    assert "done before, kept" in resumed.stdout
    manifest = _manifest(runs)
    assert manifest["status"] == "succeeded"
    run = manifest["intake"]["accelerometer_landing"]["run"]
    assert (run["new"], run["changed"], run["unchanged"]) == (5, 0, 4), run
    # Only new readings files: their rows are added to the landing tables; the customers are kept.
    modes = {name: acc["run"]["mode"] for name, acc in manifest["intake"].items()}
    assert modes == {
        "customer_landing": "keep",
        "accelerometer_landing": "append",
        "step_trainer_landing": "append",
    }
    assert _operations(lake, "accelerometer_landing") == [
        "append",
        "append",
    ]  # day 2's rows: one append snapshot
    # ... and so are the trusted readings: the new landing rows filtered, added
    # (stedi.run.incremental).
    assert _operations(lake, "accelerometer_trusted") == ["append", "append"]
    assert _lake_content(session, lake) == _lake_content(session, clean_builds("strict")[0])
    # Day 2 completes the real exports: the strict counts of a full build of data/raw.
    rows = {name: t["rows"] for name, t in manifest["tables"].items()}
    assert {name: rows[name] for name in STRICT_COUNTS} == STRICT_COUNTS
    for name, count in STRICT_COUNTS.items():
        assert f"{name:<26}" in resumed.stdout and f"{count:>10,}" in resumed.stdout
    # The Iceberg lake: the day's commit names its run (the resumed one: a resume keeps the
    # run's id) and step; day 1's snapshot still holds day 1's rows.
    day2 = _lake(session, lake)
    assert {name: day2.rows(name) for name in STRICT_COUNTS} == STRICT_COUNTS
    history = day2.lake.history("accelerometer_landing")
    day2_run = manifest["run_id"]
    assert (history[1]["run_id"], history[1]["step"], history[1]["policy"]) == (
        day2_run,
        "00_raw_to_landing",
        "strict",
    )
    assert manifest["tables"]["accelerometer_landing"]["snapshot_id"] == history[1]["snapshot_id"]
    assert history[0]["snapshot_id"] == day1_snapshot and history[1]["rows_total"] > day1_rows
    assert (
        day2.lake.read("accelerometer_landing", day1_snapshot).count() == day1_rows
    )  # day 1 as it was
    assert len(day2.lake.history("customer_landing")) == 1  # nothing new for it: no snapshot
    assert day2.unfinished_pairs() == []

    # Nothing new: nothing runs.
    idle = stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    assert "nothing new" in idle.stdout
    assert all(step.get("skipped") for step in _manifest(runs)["steps"])

    # Day 3: a withdrawal, a late consent, a re-delivered file.
    day2_landing = day2.rows("accelerometer_landing")
    _day(raw, 3)
    rebuild3 = _FullRebuild(raw, tmp_path, "day3")
    stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    after = _lake_content(session, lake)
    full3 = rebuild3.content(session)
    assert after == full3
    manifest = _manifest(runs)
    day3 = _lake(session, lake)
    assert (
        day3.lake.history("accelerometer_landing")[-1]["operation"] == "overwrite"
    )  # replaced: one snapshot
    assert day3.read("customer_trusted").where(f"email = '{withdraws['email']}'").count() == 0
    run = manifest["intake"]["accelerometer_landing"]["run"]
    assert (run["new"], run["changed"]) == (0, 1), run
    # A customer file came: every landing table is decided whole (from the store, nothing parsed
    # twice).
    assert {acc["run"]["mode"] for acc in manifest["intake"].values()} == {"full"}
    assert after["accelerometer_landing"][0] < day2_landing  # replaced, not added to
    ledger = json.loads((lake / "_intake" / "ledger.json").read_text())
    assert [r["path"].rsplit("/", 1)[-1] for r in ledger["replaced"]] == [
        _files("accelerometer")[0].name
    ]
    store = IcebergTables(session, str(lake))
    trusted_emails = {r["email"] for r in store.read("customer_trusted").select("email").collect()}
    assert withdraws["email"] not in trusted_emails and consents["email"] in trusted_emails
    for name, column, value in (
        ("accelerometer_trusted", "user", withdraws["email"]),
        ("customer_curated", "email", withdraws["email"]),
        ("step_trainer_trusted", "serialNumber", withdraws["serialNumber"]),
        ("machine_learning_curated", "serialNumber", withdraws["serialNumber"]),
    ):
        assert store.read(name).where(F.col(column) == value).count() == 0, name
    assert store.read("accelerometer_trusted").where(F.col("user") == consents["email"]).count() > 0
    # The run report names both changes by pseudonym, with the rows each added or removed.
    key = erasure.lake_key(str(lake))
    left, entered = (
        erasure.keyed_hash(key, erasure.normalize_email(c["email"]))[:12]
        for c in (withdraws, consents)
    )
    consent = manifest["consent_changes"]
    assert consent["changes"] == {
        "entered": [{"id": entered, "why": "consented"}],
        "left": [{"id": left, "why": "withdrew"}],
    }
    rows = consent["rows"]
    assert rows["customer_trusted"] == {entered: [0, 1], left: [1, 0]}
    assert rows["accelerometer_trusted"][left][0] > 0 == rows["accelerometer_trusted"][left][1]
    assert (
        rows["accelerometer_trusted"][entered][0] == 0 < rows["accelerometer_trusted"][entered][1]
    )
    assert rows["step_trainer_trusted"][left][0] > 0 == rows["step_trainer_trusted"][left][1]
    assert (
        rows["machine_learning_curated"][left][0] > 0 == rows["machine_learning_curated"][left][1]
    )
    index = (RunFolder.latest(runs).path / "index.html").read_text()
    assert "Consent changes" in index and left in index and withdraws["email"] not in index

    # For users: `stedi history` lists the three runs' snapshots (the idle run made none);
    # `stedi sql --as-of` travels back.
    history = _stedi(
        "history", "accelerometer_landing", "--lake-dir", str(lake)
    ).stdout.splitlines()
    assert [line.split()[2] for line in history[1:]] == [day1_run, day2_run, manifest["run_id"]]
    assert [line.split()[4] for line in history[1:]] == ["append", "append", "overwrite"]
    assert history[1].split()[-1] == f"{day1_rows:,}"
    query = "SELECT count(*) AS n FROM accelerometer_landing"
    as_of = _stedi("sql", query, "--as-of", day1_run, "--lake-dir", str(lake)).stdout
    assert as_of.split() == ["n", str(day1_rows)]
    unknown = _stedi(
        "sql", query, "--as-of", "19990101T000000Z-strict-none", "--lake-dir", str(lake), code=2
    )
    assert (
        unknown.stderr.count("\n") == 1
        and "older than every snapshot the lake keeps" in unknown.stderr
    )

    # A damaged table (a data file of its current snapshot gone), a run killed between a landing
    # table's commit and its quarantine's (a stray row committed under another run's name), and an
    # erasure request for the customer who withdrew: the next plain run repairs both, applies the
    # request, and the lake is what a --full rebuild of the same raw folder with the same request
    # gives (started on a copy of the lake as it is now, in the background).
    files, _ = icefiles.live_data_files(day3.lake.table("customer_trusted"))
    icefiles.delete_files([files[0].file_path])
    killed = day3.read("accelerometer_landing").limit(1)
    day3.name_run("killed-run", "00_raw_to_landing")
    day3.publish(day3.stage("accelerometer_landing", killed, append=True))
    assert day3.unfinished_pairs() == ["accelerometer_landing"]
    erase = subprocess.run(
        [*STEDI, "erase", "--email", withdraws["email"].upper(), "--lake-dir", str(lake)],
        capture_output=True,
        text=True,
        cwd=config.PROJECT_ROOT,
    )
    assert erase.returncode == 0, erase.stderr
    assert withdraws["email"].lower() not in erase.stdout.lower()
    full_erased = _FullRebuild(raw, tmp_path, "erased", lake_to_copy=lake)
    erased_run = stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    assert (
        "accelerometer_landing: a killed run committed it but not its quarantine; landing it again"
        in erased_run.stdout
    )
    skipped = {e["name"] for e in _manifest(runs)["steps"] if e.get("skipped")}
    assert "01_customer_landing_to_trusted" not in skipped  # its table was damaged: it ran again
    assert _lake(session, lake).unfinished_pairs() == []
    # Erasure of the customer who withdrew: gone from every zone, counted, kept out later. The run
    # forgot the history at its end: no file, decoded (Parquet rows, Avro manifests and catalog
    # too), holds the customer's address or serial, in any case (one decoding pass).
    assert holding(lake, withdraws["email"], withdraws["serialNumber"], ignore_case=True) == []
    erased_lake = _lake(session, lake)
    assert all(len(erased_lake.lake.history(name)) == 1 for name in erased_lake.lake.names())
    manifest = _manifest(runs)
    erased = {name: manifest["intake"][name]["erased"] for name in manifest["intake"]}
    assert (
        erased["customer_landing"] >= 2
        and erased["accelerometer_landing"] > 0
        and erased["step_trainer_landing"] > 0
    )
    assert all(acc["balanced"] for acc in manifest["intake"].values())
    assert [e["id"] for e in manifest["erasures"]] == [left]
    removed = sum(manifest["erasures"][0]["rows"].values())
    assert (
        f"  erasures applied: 1 request ({left}); {removed:,} rows removed from the landing tables "
        "(" in erased_run.stdout
    )
    assert withdraws["email"].lower() not in erased_run.stdout.lower()
    index = (RunFolder.latest(runs).path / "index.html").read_text()
    assert "Erasures" in index and left in index and withdraws["email"].lower() not in index.lower()
    assert manifest["consent_changes"] == {}  # they had left the consented tables already, on day 3
    requests = json.loads((lake / "_erasure" / "requests.json").read_text())["requests"]
    assert len(requests) == 1 and requests[0]["done"]["rows"]["accelerometer_landing"] > 0
    erased_content = _lake_content(session, lake)
    assert erased_content == full_erased.content(session)

    # Day 4: a new file holding only a reading of the erased customer: kept out, counted as erased;
    # no table changes, so the lake is still the --full rebuild's.
    line = next(
        r for f in _files("accelerometer") for r in _records(f) if r["user"] == withdraws["email"]
    )
    (raw / "accelerometer" / "accelerometer-day4.json").write_text(
        json.dumps({**line, "timestamp": line["timestamp"] + 1}) + "\n"
    )
    stedi_run(lake, runs, "--raw-dir", str(raw), *ZONE_STEPS_ONLY)
    assert holding(lake, withdraws["email"], ignore_case=True) == []
    accounting = _manifest(runs)["intake"]["accelerometer_landing"]
    assert (
        accounting["run"]["erased"] == 1
        and accounting["balanced"]
        and accounting["run"]["mode"] == "append"
    )
    assert _lake_content(session, lake) == erased_content


def _finished(runs: Path, besides: str) -> int:
    """Steps finished by the latest run, when it is not run `besides`."""
    try:
        folder = RunFolder.latest(runs)
        manifest = folder.read_manifest() if folder.run_id != besides else None
    except (OSError, ValueError):
        return 0
    return sum(step["status"] == "succeeded" for step in manifest["steps"]) if manifest else 0
