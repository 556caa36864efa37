"""stedi.dev.generate: synthetic exports with the real data's shape, deterministic, streamed, usable
by the pipeline."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import tracemalloc
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from lakes import ZONE_STEPS_ONLY
from stedi import config
from stedi.cli import main
from stedi.core.tables import SOURCES
from stedi.dev.generate import LINES_PER_FILE, customer_count, generate
from stedi.run.folder import RunFolder
from stedi.run.pipeline import PIPELINE, ZONE_STEPS

STEDI = [sys.executable, "-m", "stedi.cli"]
CUSTOMER_KEYS = (
    "customerName",
    "email",
    "phone",
    "birthDay",
    "serialNumber",
    "registrationDate",
    "lastUpdateDate",
)
SHARE_KEYS = ("shareWithResearchAsOfDate", "shareWithPublicAsOfDate", "shareWithFriendsAsOfDate")


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*.json"))
        if p.parent != root
    }


def _records(root: Path, source: str) -> list[dict]:
    return [
        json.loads(line) for path in sorted((root / source).glob("*.json")) for line in path.open()
    ]


@pytest.fixture(scope="module")
def scale_one(tmp_path_factory):
    """The three tables generated at N=1, parsed."""
    root = tmp_path_factory.mktemp("scale1") / "raw"
    result = generate(root, 1.0, seed=7)
    return root, result, {source: _records(root, source) for source in SOURCES}


# -- determinism
# ------------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    first, again, other = (
        generate(tmp_path / name, 1.3, seed=seed) for name, seed in (("a", 3), ("b", 3), ("c", 4))
    )
    a, b, c = (_files(Path(r.out)) for r in (first, again, other))
    assert a and a == b
    assert sorted(a) == sorted(c) and a != c
    assert (tmp_path / "a" / "generation.json").read_text() == (
        tmp_path / "b" / "generation.json"
    ).read_text()


# -- shape at N=1
# -----------------------------------------------------------------------------------


def test_layout_file_sizes_and_counts(scale_one):
    root, result, records = scale_one
    assert {p.name for p in root.iterdir()} == {*SOURCES, "generation.json"}
    for source in SOURCES:
        files = sorted((root / source).glob("*.json"))
        assert files and all(f.name.startswith(f"{source}-") for f in files)
        lines = [len(f.read_bytes().splitlines()) for f in files]
        assert all(n <= LINES_PER_FILE for n in lines) and all(
            n == LINES_PER_FILE for n in lines[:-1]
        )
        assert all(f.read_bytes().endswith(b"}\n") and b"\r" not in f.read_bytes() for f in files)
    assert len(records["customer"]) == result.customers == customer_count(1) == 956
    assert 956 * 77 <= len(records["accelerometer"]) == result.accelerometer <= 956 * 90
    assert len(records["step_trainer"]) == result.step_trainer == 956 * 30
    assert result.files == {"customer": 1, "accelerometer": 9, "step_trainer": 3}  # as data/raw


def test_key_names_order_and_value_types_are_those_of_the_real_export(scale_one):
    root, _, records = scale_one
    real_keys = {tuple(c) for c in _records(config.RAW_DIR, "customer")}
    assert {tuple(c) for c in records["customer"]} <= real_keys
    for c in records["customer"]:
        assert tuple(c)[: len(CUSTOMER_KEYS)] == CUSTOMER_KEYS
        assert all(isinstance(c[k], str) for k in CUSTOMER_KEYS[:5])
        assert all(type(c[k]) is int for k in c if k.endswith("Date"))
        assert c["email"] == c["customerName"].replace(" ", ".") + "@test.com"
    assert all(list(a) == ["user", "timestamp", "x", "y", "z"] for a in records["accelerometer"])
    assert all(type(a["timestamp"]) is int for a in records["accelerometer"])
    axes = {(type(a[k]), a[k]) for a in records["accelerometer"] for k in "xyz"}
    assert axes == {(float, -1.0), (float, 0.0), (float, 1.0)}
    assert all(
        list(s) == ["sensorReadingTime", "serialNumber", "distanceFromObject"]
        for s in records["step_trainer"]
    )
    distances = [s["distanceFromObject"] for s in records["step_trainer"]]
    assert all(type(d) is int and 201 <= d <= 300 for d in distances)
    assert {s["distanceFromObject"] for s in records["step_trainer"]} == set(range(201, 301))
    # The same formatting as the real files: compact readings, `", "`-separated customers.
    for source in SOURCES:  # every line laid out as some line of the real export
        real = {
            _skeleton(line)
            for path in (config.RAW_DIR / source).glob("*.json")
            for line in path.open()
        }
        ours = {_skeleton(line) for path in (root / source).glob("*.json") for line in path.open()}
        assert ours <= real, (source, ours - real)


def _skeleton(line: str) -> str:
    """A line with its values blanked: keys, separators and quoting remain."""
    return re.sub(r'(:\s*)(?:"[^"]*"|-?[0-9.]+)', r"\1V", line)


def test_customers_unique_and_about_half_consent_by_an_absent_key(scale_one):
    _, _, records = scale_one
    customers = records["customer"]
    assert len({c["email"] for c in customers}) == len(customers)
    assert len({c["serialNumber"] for c in customers}) == len(customers)
    for key in SHARE_KEYS:  # absent, never null, for about half of them
        present = [c for c in customers if key in c]
        assert 0.44 < len(present) / len(customers) < 0.58
        assert all(c[key] is not None for c in present)


def test_readings_per_customer_intervals_and_groups(scale_one):
    _, _, records = scale_one
    by_user = defaultdict(list)
    for a in records["accelerometer"]:
        by_user[a["user"]].append(a)
    assert set(by_user) == {c["email"] for c in records["customer"]}  # every customer has readings
    groups = Counter()
    for readings in by_user.values():
        assert 77 <= len(readings) <= 90
        instants = sorted({a["timestamp"] for a in readings})
        assert len(instants) == 30
        assert all(2000 <= b - a <= 4000 for a, b in itertools.pairwise(instants))
        per_instant = Counter(a["timestamp"] for a in readings)
        groups.update(per_instant.values())
        assert len({(a["timestamp"], a["x"], a["y"], a["z"]) for a in readings}) == len(
            readings
        )  # no duplicates
    assert groups[3] > groups[2] > groups[1] > 0 and set(groups) == {1, 2, 3}


def test_step_trainer_readings_at_the_owners_accelerometer_instants(scale_one):
    _, _, records = scale_one
    owner = {c["serialNumber"]: c["email"] for c in records["customer"]}
    instants = defaultdict(set)
    for a in records["accelerometer"]:
        instants[a["user"]].add(a["timestamp"])
    per_device = Counter(s["serialNumber"] for s in records["step_trainer"])
    assert set(per_device) == set(owner) and set(per_device.values()) == {30}
    assert all(
        s["sensorReadingTime"] in instants[owner[s["serialNumber"]]]
        for s in records["step_trainer"]
    )


def test_timestamps_collide_across_customers(scale_one):
    _, _, records = scale_one
    users_at = defaultdict(set)
    for a in records["accelerometer"]:
        users_at[a["timestamp"]].add(a["user"])
    shared = sum(1 for users in users_at.values() if len(users) > 1)
    assert 1000 <= shared <= 2200  # real data: 1,481


def test_some_readings_predate_consent(scale_one):
    _, _, records = scale_one
    consent = {c["email"]: c[SHARE_KEYS[0]] for c in records["customer"] if SHARE_KEYS[0] in c}
    readings = [a for a in records["accelerometer"] if a["user"] in consent]
    before = [a for a in readings if a["timestamp"] < consent[a["user"]]]
    assert 0.15 < len(before) / len(readings) < 0.3  # real data: 8,956 of 40,981
    latest = defaultdict(int)
    for a in readings:
        latest[a["user"]] = max(latest[a["user"]], a["timestamp"])
    all_before = sum(1 for user, t in latest.items() if t < consent[user])
    assert 5 <= all_before <= 40  # real data: 18 of 482


# -- streaming ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_memory_stays_flat_as_the_scale_grows(tmp_path):
    peaks = []
    for scale in (1.2, 4):
        tracemalloc.start()
        generate(tmp_path / str(scale), scale, seed=1)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.1 * peaks[0], peaks  # more than 3x the data, the same peak


def test_small_files_when_asked_and_fractional_scales(tmp_path):
    result = generate(tmp_path / "raw", 0.05, seed=2, lines_per_file=1000)
    assert result.customers == 48
    assert result.files == {"customer": 1, "accelerometer": 5, "step_trainer": 2}


# -- the command ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scale", "0"], "--scale must be a positive number"),
        (["--scale", "-1"], "--scale must be a positive number"),
        (["--scale", "nan"], "--scale must be a positive number"),
        (["--scale", "abc"], "invalid float value"),
        (["--scale", "1", "--seed", "-3"], "--seed must be a non-negative integer"),
        (["--scale", "1", "--seed", "x"], "invalid int value"),
    ],
)
def test_bad_arguments_exit_2_in_one_line_and_write_nothing(tmp_path, capsys, args, message):
    assert _exit_code(["generate", "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("stedi: error: ") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors
        return exc.code


def test_an_occupied_folder_is_refused_and_left_alone(tmp_path, capsys):
    assert main(["generate", "--scale", "0.01", "--out", str(tmp_path / "raw")]) == 0
    before = _files(tmp_path / "raw")
    assert main(["generate", "--scale", "0.02", "--seed", "5", "--out", str(tmp_path / "raw")]) == 2
    assert "already holds customer/" in capsys.readouterr().err
    assert _files(tmp_path / "raw") == before
    assert not [
        p for p in (tmp_path / "raw").iterdir() if p.name.startswith(".")
    ]  # no staging left behind


# -- the pipeline reads it ------------------------------------------------------------------------


@pytest.mark.slow
def test_intake_lands_every_generated_record(tmp_path, spark):
    from stedi.core.intake import land_source

    result = generate(tmp_path / "raw", 0.2, seed=3)
    expected = dict(zip(SOURCES, (result.customers, result.accelerometer, result.step_trainer)))
    for source in SOURCES:
        intake = land_source(spark, tmp_path / "raw", source)
        try:
            accounting = intake.accounting()
            assert accounting["read"] == accounting["landed"] == expected[source], accounting
            assert (
                accounting["quarantined"]
                == accounting["duplicates_dropped"]
                == accounting["repaired_files"]
                == 0
            )
        finally:
            intake.unpersist()


def _reference_counts(root: Path) -> dict[str, dict[str, int]]:
    """Both policies' table counts, computed in plain Python from the generated files."""
    customers = _records(root, "customer")
    readings = _records(root, "accelerometer")
    steps = _records(root, "step_trainer")
    consent = {
        c["email"]: c["shareWithResearchAsOfDate"]
        for c in customers
        if "shareWithResearchAsOfDate" in c
    }
    owner = {c["serialNumber"]: c["email"] for c in customers}
    landing = {
        f"{source}_landing": len(rows)
        for source, rows in zip(SOURCES, (customers, readings, steps))
    }
    counts = {}
    for policy in ("udacity", "strict"):
        bounded = policy == "strict"
        trusted = [
            a
            for a in readings
            if a["user"] in consent and (not bounded or a["timestamp"] >= consent[a["user"]])
        ]
        curated = {a["user"] for a in trusted}
        step_trusted = [
            s
            for s in steps
            if owner[s["serialNumber"]] in curated
            and (not bounded or s["sensorReadingTime"] >= consent[owner[s["serialNumber"]]])
        ]
        at = Counter(a["timestamp"] for a in trusted)
        at_owner = Counter((a["user"], a["timestamp"]) for a in trusted)
        if bounded:
            ml = sum(
                at_owner[(owner[s["serialNumber"]], s["sensorReadingTime"])] for s in step_trusted
            )
        else:
            ml = sum(at[s["sensorReadingTime"]] for s in step_trusted)
        counts[policy] = {
            **landing,
            "customer_trusted": len(consent),
            "accelerometer_trusted": len(trusted),
            "step_trainer_trusted": len(step_trusted),
            "customer_curated": len(curated),
            "machine_learning_curated": ml,
        }
    return counts


@pytest.mark.e2e
@pytest.mark.own_lake  # its own raw folder and lakes: not on the clean builds' worker
def test_stedi_run_on_generated_exports_in_both_policies(tmp_path):
    raw = tmp_path / "raw"
    done = subprocess.run(
        [*STEDI, "generate", "--scale", "0.05", "--out", str(raw), "--seed", "11"],
        capture_output=True,
        text=True,
        cwd=config.PROJECT_ROOT,
    )
    assert done.returncode == 0 and done.stdout.startswith("stedi: wrote 48 customers"), done.stderr
    expected = _reference_counts(raw)
    counts = {}
    # The analysis runs once (it recomputes both policies itself); the strict run stops at the
    # tables.
    for policy, steps in (("udacity", ()), ("strict", ZONE_STEPS_ONLY)):
        base = tmp_path / policy
        done = subprocess.run(
            [
                *STEDI,
                "run",
                "--raw-dir",
                str(raw),
                "--lake-dir",
                str(base / "lake"),
                "--runs-dir",
                str(base / "runs"),
                "--policy",
                policy,
                *steps,
            ],
            capture_output=True,
            text=True,
            cwd=config.PROJECT_ROOT,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        manifest = RunFolder.latest(base / "runs").read_manifest()
        assert manifest["status"] == "succeeded"
        assert [s["name"] for s in manifest["steps"]] == [
            step.name for step in (ZONE_STEPS if steps else PIPELINE)
        ]
        assert all(
            acc["quarantined"] == 0 and acc["balanced"] for acc in manifest["intake"].values()
        )
        counts[policy] = {name: t["rows"] for name, t in manifest["tables"].items()}
    assert counts == expected
    assert all(counts["strict"][name] <= counts["udacity"][name] for name in counts["strict"])
    # The generated data separates the policies, as the real data does.
    for name in ("accelerometer_trusted", "step_trainer_trusted", "machine_learning_curated"):
        assert counts["strict"][name] < counts["udacity"][name], name
