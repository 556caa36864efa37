"""Synthetic STEDI exports of any size: `stedi generate --scale N --out DIR [--seed S]`.

Writes `DIR/customer/*.json`, `DIR/accelerometer/*.json` and `DIR/step_trainer/*.json`
in the raw layout the pipeline reads (JSON lines, the key names, key order, value
types and formatting of the real exports in data/raw), with the real data's shape,
measured on data/raw:

- about 956·N customers; unique names, emails (`First.Last@test.com`) and device
  serial numbers (UUID 4); the optional `share*AsOfDate` keys each present for about
  half of them, absent otherwise (never null), as in the real export;
- every customer has 30 accelerometer instants at a constant period of 2–4 s (the
  real periods: 2000–4000 ms in steps of 33⅓ ms), ending about 72 s after
  registration, with 1–3 readings per instant (77–90 readings per customer, each
  instant's readings distinct), x, y, z in {-1.0, 0.0, 1.0};
- every device has one step trainer reading per accelerometer instant of its owner
  (30 per device), distanceFromObject an int in 201–300;
- consent (`shareWithResearchAsOfDate`) is the last update date: for most customers
  the registration date, so the readings taken before registration predate consent
  (about a fifth of consenting customers' readings); about 6 % of customers updated
  their record a minute after registering, just after their readings ended, so all
  their readings predate consent (the real data's 18 of 482);
- timestamp collisions across customers: besides chance coincidences, about 7 % of
  instants are moved (within the 2–4 s spacing) onto an instant of a customer who
  registered shortly before, so about 1.5 instants per customer carry readings of
  more than one customer (real data: 1,481 of 27,110 instants).

Deterministic: the same scale and seed give the same bytes (file names included), with
the same numpy (its random streams are stable within a version, NEP 19).
Streaming: customers are generated and written in chunks of CHUNK_CUSTOMERS, into
export files of at most LINES_PER_FILE lines (as the real export files), so memory
does not grow with the scale. The three folders are written under a hidden staging
folder of DIR and moved into place at the end: DIR never holds a partial export.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from stedi.core.tables import SOURCES
from stedi.dev.export_files import ExportWriter

REAL_CUSTOMERS = 956  # customers in data/raw: scale 1
CHUNK_CUSTOMERS = 1000
LINES_PER_FILE = 10_000
SUMMARY_FILE = "generation.json"

# Time: the real export's first registration, ~2.57 s between registrations on average.
FIRST_REGISTRATION_MS = 1655561994131
MAX_REGISTRATION_GAP_MS = 5130

INSTANTS = 30  # accelerometer instants (and step trainer readings) per customer
PERIOD_STEPS = (61, 120)  # period = steps * 100 / 3 ms: 2033..4000 ms
END_AFTER_REGISTRATION_MS = 74_100  # readings end at most this long after registration ...
END_SLACK_MEAN_MS = 2_700  # ... earlier by an exponential amount of this mean,
END_SLACK_MAX_MS = 11_300  # at most this
UPDATED_SHARE = 0.046  # customers whose record was updated (consent moved) after registering
UPDATE_AFTER_MS = (58_000, 68_300)
END_BEFORE_UPDATE_MS = (
    2_300,
    4_000,
)  # an updated customer's readings end this long before the update
SHARE_PRESENT = {  # share of customers whose export carries the key
    "shareWithResearchAsOfDate": 482 / 956,
    "shareWithPublicAsOfDate": 491 / 956,
    "shareWithFriendsAsOfDate": 508 / 956,
}
READINGS_PER_INSTANT = ((0.003, 1), (0.160, 2))  # P(fewer than 3 readings): 1 or 2; otherwise 3
MIN_READINGS, MAX_READINGS = 77, 90
MIN_GAP_MS, MAX_GAP_MS = 2000, 4000
COLLISION_SHARE = 0.13  # instants moved onto another customer's instant
COLLISION_PARTNERS = 20  # ... of one of the customers who registered just before
COLLISION_TRIES = 3  # partners tried per instant
DISTANCE = (201, 300)
BIRTH_YEARS = (967, 1964)  # as in the export: 3-digit years unpadded
PHONE = "8015551212"
ACCELEROMETER_RUN, STEP_TRAINER_RUN = 10, 5  # readings come in runs per customer, runs interleaved

# The real export's names: 33 x 29 = 957 combinations; further customers get a number on the last
# name.
FIRST_NAMES = (
    "Angie Ashley Ben Bobby Chris Christina Craig Dan Danny David Edward Eric Frank Gail Jacob "
    "Jane Jason Jaya Jerry John Larry Liz Lyn Manoj Neeraj Santosh Sarah Sean Senthil Spencer "
    "Suresh Travis Trevor"
).split()
LAST_NAMES = (
    "Abram Ahmed Anandh Anderson Aristotle Clark Clayton Davis Doshi Fibonnaci Gonzalez Habschied "
    "Hansen Harris Howard Huey Jackson Jefferson Jones Khatib Lincoln Mitra Olson Phillips Sanchez "
    "Smith Spencer Staples Wu"
).split()
_NAME_STREAM = 1  # seed stream of the name order (chunks use stream 0)

# x, y, z: the 27 combinations of -1.0, 0.0, 1.0, as the export writes them.
_AXIS = ("-1.0", "0.0", "1.0")
_XYZ = tuple(f',"x":{x},"y":{y},"z":{z}}}' for x in _AXIS for y in _AXIS for z in _AXIS)


class GenerateError(ValueError):
    """Bad arguments: reported in one line, exit code 2, nothing written."""


@dataclass
class Generated:
    out: str
    scale: float
    seed: int
    customers: int = 0
    consenting: int = 0
    accelerometer: int = 0
    step_trainer: int = 0
    files: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.customers:,} customers ({self.consenting:,} consenting), "
            f"{self.accelerometer:,} accelerometer "
            f"and {self.step_trainer:,} step trainer readings in {sum(self.files.values())} files"
        )


def customer_count(scale: float) -> int:
    return max(1, round(REAL_CUSTOMERS * scale))


def _names(seed: int, first_index: int, count: int) -> list[tuple[str, str]]:
    """(first, last) of customers first_index .. first_index+count-1: unique, in a seeded order."""
    combos = len(FIRST_NAMES) * len(LAST_NAMES)
    names = []
    cycle, orders = -1, None
    for index in range(first_index, first_index + count):
        if index // combos != cycle:
            cycle = index // combos
            rng = np.random.default_rng([seed, _NAME_STREAM, cycle])
            orders = rng.permutation(combos).tolist()
        combo = orders[index % combos]
        suffix = "" if cycle == 0 else str(cycle + 1)
        names.append(
            (FIRST_NAMES[combo // len(LAST_NAMES)], LAST_NAMES[combo % len(LAST_NAMES)] + suffix)
        )
    return names


def _serial_numbers(rng: np.random.Generator, count: int) -> list[str]:
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    return [str(uuid.UUID(bytes=row.tobytes())) for row in raw]


def _snap_collisions(rng: np.random.Generator, instants: np.ndarray, previous: np.ndarray) -> None:
    """Move some instants (in place) onto an instant of a customer who registered shortly before.

    `instants` (customers x INSTANTS, ascending per row) are this chunk's, `previous` the last
    rows of the chunk before (none for the first chunk). A moved instant
    stays within MIN_GAP_MS..MAX_GAP_MS of its neighbours, so it keeps the 2-4 s spacing.
    """
    pool = np.vstack([previous, instants])
    chosen = rng.random(instants.shape) < COLLISION_SHARE
    chosen[:, 1:] &= ~chosen[
        :, :-1
    ]  # never two neighbours: each window is computed from fixed neighbours
    rows, cols = np.nonzero(chosen)
    if len(rows) == 0:
        return
    big = np.iinfo(np.int64).max // 4
    before = np.where(cols > 0, instants[rows, np.maximum(cols - 1, 0)], -big)
    after = np.where(cols < INSTANTS - 1, instants[rows, np.minimum(cols + 1, INSTANTS - 1)], big)
    low = np.maximum(before + MIN_GAP_MS, after - MAX_GAP_MS)
    high = np.minimum(before + MAX_GAP_MS, after - MIN_GAP_MS)
    # Search every partner row at once: rows laid end to end, each shifted far beyond the others.
    origin = pool.min()
    span = pool.max() - origin + 2 * MAX_GAP_MS + 1
    keys = (np.arange(len(pool))[:, None] * span + (pool - origin)).ravel()
    values = pool.ravel()
    # A partner without an instant in the window: try another (COLLISION_TRIES partners at most).
    for _ in range(COLLISION_TRIES):
        partner = rows + len(previous) - rng.integers(1, COLLISION_PARTNERS + 1, size=len(rows))
        partner = np.maximum(
            partner, 0
        )  # the first customers: the first customer (maybe itself: no match)
        offset = partner * span - origin
        at = np.searchsorted(keys, low + offset)
        found = (at < len(keys)) & (keys[np.minimum(at, len(keys) - 1)] <= high + offset)
        found &= partner != rows + len(previous)
        instants[rows[found], cols[found]] = values[at[found]]
        rows, cols, low, high = rows[~found], cols[~found], low[~found], high[~found]
        if len(rows) == 0:
            return


def _interleaved(rng: np.random.Generator, owners: np.ndarray, run: int) -> np.ndarray:
    """An order of readings (grouped by owner, in owner order) where each owner's readings come
    in runs of `run` and the runs of the chunk are shuffled, as in the real export files."""
    starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
    position = np.arange(len(owners)) - np.repeat(starts, np.diff(np.r_[starts, len(owners)]))
    run_ids = np.cumsum(np.r_[True, (owners[1:] != owners[:-1]) | (position[1:] % run == 0)]) - 1
    rank = np.empty(run_ids[-1] + 1, dtype=np.int64)
    rank[rng.permutation(len(rank))] = np.arange(len(rank))
    return np.argsort(rank[run_ids], kind="stable")


def _chunk(
    seed: int, chunk: int, first: int, count: int, last_registration: int, previous: np.ndarray
):
    """One chunk of customers: (customer lines, accelerometer lines, step lines, stats, state for
    the next)."""
    rng = np.random.default_rng([seed, 0, chunk])
    registration = last_registration + np.cumsum(
        rng.integers(0, MAX_REGISTRATION_GAP_MS + 1, size=count)
    )
    updated = rng.random(count) < UPDATED_SHARE
    update = registration + rng.integers(UPDATE_AFTER_MS[0], UPDATE_AFTER_MS[1] + 1, size=count)
    last_update = np.where(updated, update, registration)
    slack = np.minimum(rng.exponential(END_SLACK_MEAN_MS, size=count), END_SLACK_MAX_MS).astype(
        np.int64
    )
    before_update = rng.integers(END_BEFORE_UPDATE_MS[0], END_BEFORE_UPDATE_MS[1] + 1, size=count)
    end = np.where(
        updated, update - before_update, registration + END_AFTER_REGISTRATION_MS - slack
    )
    period = rng.integers(PERIOD_STEPS[0], PERIOD_STEPS[1] + 1, size=count) * 100 // 3
    instants = (end - (INSTANTS - 1) * period)[:, None] + np.arange(INSTANTS)[None, :] * period[
        :, None
    ]
    _snap_collisions(rng, instants, previous)

    present = {key: rng.random(count) < share for key, share in SHARE_PRESENT.items()}
    years = rng.integers(BIRTH_YEARS[0], BIRTH_YEARS[1] + 1, size=count).tolist()
    serials = _serial_numbers(rng, count)
    names = _names(seed, first, count)
    emails = [f"{given}.{family}@test.com" for given, family in names]
    reg, upd = registration.tolist(), last_update.tolist()
    flags = {key: mask.tolist() for key, mask in present.items()}
    customers = []
    for i, (given, family) in enumerate(names):
        line = (
            f'{{"customerName": "{given} {family}", "email": "{emails[i]}", "phone": "{PHONE}", '
            f'"birthDay": "{years[i]}-01-01", "serialNumber": "{serials[i]}", '
            f'"registrationDate": {reg[i]}, "lastUpdateDate": {upd[i]}'
        )
        for key in SHARE_PRESENT:
            if flags[key][i]:
                line += f', "{key}": {upd[i]}'
        customers.append(line + "}")

    # Readings per instant: 3, sometimes 2, rarely 1; 77..90 per customer.
    draw = rng.random((count, INSTANTS))
    sizes = np.full((count, INSTANTS), 3, dtype=np.int64)
    for probability, size in reversed(READINGS_PER_INSTANT):
        sizes[draw < probability] = size
    short = sizes.sum(axis=1) < MIN_READINGS
    sizes[short] = 3
    sizes[short, : 3 * INSTANTS - MIN_READINGS] = 2
    # Each instant's readings have distinct (x, y, z): codes base, base+step, base+2*step mod 27.
    base = rng.integers(0, 27, size=(count, INSTANTS))
    step = rng.integers(1, 27, size=(count, INSTANTS))

    flat_sizes = sizes.ravel()
    cell = np.repeat(np.arange(count * INSTANTS), flat_sizes)
    within = np.arange(len(cell)) - np.repeat(np.cumsum(flat_sizes) - flat_sizes, flat_sizes)
    codes = (base.ravel()[cell] + within * step.ravel()[cell]) % 27
    # Newest first within a customer, as the export lists them.
    cell_desc = (cell // INSTANTS) * INSTANTS + (INSTANTS - 1 - cell % INSTANTS)
    order = np.lexsort((within, cell_desc))
    cell, codes = cell[order], codes[order]
    owners = cell // INSTANTS
    order = _interleaved(rng, owners, ACCELEROMETER_RUN)
    prefixes = [f'{{"user":"{email}","timestamp":' for email in emails]
    flat_instants = instants.ravel()
    accelerometer = [
        prefixes[o] + str(t) + _XYZ[c]
        for o, t, c in zip(
            owners[order].tolist(), flat_instants[cell[order]].tolist(), codes[order].tolist()
        )
    ]

    step_cells = np.arange(count * INSTANTS)
    step_cells = (step_cells // INSTANTS) * INSTANTS + (INSTANTS - 1 - step_cells % INSTANTS)
    order = _interleaved(rng, step_cells // INSTANTS, STEP_TRAINER_RUN)
    step_cells = step_cells[order]
    distance = rng.integers(DISTANCE[0], DISTANCE[1] + 1, size=len(step_cells)).tolist()
    device = [f',"serialNumber":"{serial}","distanceFromObject":' for serial in serials]
    step_trainer = [
        '{"sensorReadingTime":' + str(t) + device[o] + str(d) + "}"
        for t, o, d in zip(
            flat_instants[step_cells].tolist(), (step_cells // INSTANTS).tolist(), distance
        )
    ]
    consenting = int(present["shareWithResearchAsOfDate"].sum())
    last = instants[-COLLISION_PARTNERS:].copy()
    return customers, accelerometer, step_trainer, consenting, int(registration[-1]), last


def generate(
    out: str | os.PathLike[str], scale: float, seed: int = 0, lines_per_file: int = LINES_PER_FILE
) -> Generated:
    """Write synthetic exports of `scale` times the real data's size into `out` (see the module
    doc)."""
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise GenerateError(f"--scale must be a positive number, not {scale!r}")
    if seed < 0:
        raise GenerateError(f"--seed must be a non-negative integer, not {seed!r}")
    if lines_per_file < 1:
        raise GenerateError("lines per file must be at least 1")
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise GenerateError(f"--out {root} is not a folder")
    taken = [
        s
        for s in SOURCES
        if (root / s).exists() and (not (root / s).is_dir() or any((root / s).iterdir()))
    ]
    if taken:
        held = ", ".join(f"{s}/" for s in taken)
        raise GenerateError(f"--out {root} already holds {held}; give an empty or new folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GenerateError(f"cannot create --out {root}: {exc.strerror}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise GenerateError(f"--out {root} is not writable")

    started = time.monotonic()
    result = Generated(out=str(root), scale=scale, seed=seed)
    staging = root / f".generating-{uuid.uuid4().hex[:8]}"
    writers = {source: ExportWriter(staging / source, source, lines_per_file) for source in SOURCES}
    try:
        total = customer_count(scale)
        last_registration = FIRST_REGISTRATION_MS - MAX_REGISTRATION_GAP_MS // 2
        previous = np.empty((0, INSTANTS), dtype=np.int64)
        for chunk, first in enumerate(range(0, total, CHUNK_CUSTOMERS)):
            count = min(CHUNK_CUSTOMERS, total - first)
            customers, accelerometer, step_trainer, consenting, last_registration, previous = (
                _chunk(seed, chunk, first, count, last_registration, previous)
            )
            writers["customer"].write(customers)
            writers["accelerometer"].write(accelerometer)
            writers["step_trainer"].write(step_trainer)
            result.consenting += consenting
            del (
                customers,
                accelerometer,
                step_trainer,
            )  # before the next chunk is made: one chunk in memory
        for writer in writers.values():
            writer.close()
        for source in SOURCES:
            if (root / source).exists():  # an empty folder (checked above)
                (root / source).rmdir()
            os.replace(staging / source, root / source)
    finally:
        for writer in writers.values():
            writer.close()
        shutil.rmtree(staging, ignore_errors=True)
    result.customers = writers["customer"].lines
    result.accelerometer = writers["accelerometer"].lines
    result.step_trainer = writers["step_trainer"].lines
    result.files = {source: writer.files for source, writer in writers.items()}
    result.seconds = round(time.monotonic() - started, 2)
    summary = {
        k: v for k, v in asdict(result).items() if k not in ("out", "seconds")
    }  # the same for the same data
    (root / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    return result
