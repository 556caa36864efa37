"""A run folder and its layout, in one place: `runs/<run_id>/` and the `runs/latest` link.

    runs/<run_id>/manifest.json          the run: status, policy, tables, steps, intake, quality
    runs/<run_id>/steps/<step>.json      each step's completion record (on Glue: the lake's
    _runs/<run_id>/steps/) runs/<run_id>/<step>.ipynb           the executed notebooks, with
    <step>.html and <step>.code.html runs/<run_id>/figures/<name>.png     the analysis's figures,
    and figures/captions.json runs/<run_id>/index.html             the run's page
    runs/latest                          a link to the newest run folder

Every write is whole (stedi.atomic_files / stedi.core.storage): a reader sees the old or the new
file.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

from stedi import config
from stedi.atomic_files import point_link, write_atomic
from stedi.core import storage

MANIFEST = "manifest.json"
STEPS_DIR = "steps"
LATEST = "latest"
FIGURES_DIR = "figures"
CAPTIONS_FILE = "captions.json"
INDEX = "index.html"


RECORDS_ON_LAKE = (
    "_runs"  # on S3 the steps leave their records in the lake: <lake>/_runs/<run_id>/steps/
)


def lake_records(lake_root: str, run_id: str) -> str:
    """Where the steps of run `run_id` on a lake on S3 leave their completion records."""
    return f"{lake_root}/{RECORDS_ON_LAKE}/{run_id}"


def new_run_id(policy: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{policy}-{uuid.uuid4().hex[:4]}"


class RunFolder:
    """One run's folder. `records` is where the steps leave their completion records:
    the folder itself, or an s3:// prefix when the notebooks run on Glue."""

    def __init__(self, path: str | Path, records: str = ""):
        self.records = records or str(path)  # kept as given: Path() would fold an s3:// URI's "//"
        self.path = Path(path)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def figures_dir(self) -> Path:
        return self.path / FIGURES_DIR

    @property
    def captions_path(self) -> Path:
        return self.figures_dir / CAPTIONS_FILE

    @property
    def index_path(self) -> Path:
        return self.path / INDEX

    def notebook(self, step: str) -> Path:
        return self.path / f"{step}.ipynb"

    # -- completion records ------------------------------------------------------
    def record_uri(self, step: str) -> str:
        return f"{self.records}/{STEPS_DIR}/{step}.json"

    def write_record(self, step: str, record: dict) -> None:
        storage.write_text(self.record_uri(step), json.dumps(record, indent=2))

    def read_record(self, step: str) -> dict | None:
        text = storage.read_text(self.record_uri(step))
        return None if text is None else json.loads(text)

    # -- manifest ----------------------------------------------------------------
    def write_manifest(self, manifest: dict) -> None:
        write_atomic(self.manifest_path, json.dumps(manifest, indent=2, sort_keys=False))

    def read_manifest(self) -> dict | None:
        path = self.manifest_path
        return json.loads(path.read_text()) if path.is_file() else None

    # -- figures -----------------------------------------------------------------
    def captions(self) -> dict:
        path = self.captions_path
        return json.loads(path.read_text()) if path.is_file() else {}

    def write_caption(self, name: str, title: str, caption: str) -> None:
        write_atomic(
            self.captions_path,
            json.dumps({**self.captions(), name: {"title": title, "caption": caption}}, indent=2),
        )

    def figures(self) -> list[Path]:
        return sorted(self.figures_dir.glob("*.png")) if self.figures_dir.is_dir() else []

    # -- finding runs ------------------------------------------------------------
    def point_latest(self) -> None:
        """Make `<runs>/latest` point at this folder."""
        point_link(self.path.parent / LATEST, self.path.name)

    @classmethod
    def latest(cls, runs_dir: str | Path = config.RUNS_DIR) -> RunFolder:
        """The newest run: where `<runs>/latest` points, else the folder with the newest
        manifest.json."""
        runs = Path(config.resolve(runs_dir))
        latest = runs / LATEST
        if latest.is_dir() and (latest / MANIFEST).is_file():
            return cls(latest.resolve())
        candidates = [p.parent for p in runs.glob(f"*/{MANIFEST}") if p.parent.name != LATEST]
        if not candidates:
            raise FileNotFoundError(
                f"no run folder with a {MANIFEST} in {runs}; run `stedi run` first"
            )
        return cls(max(candidates, key=lambda d: ((d / MANIFEST).stat().st_mtime, d.name)))

    @classmethod
    def find(cls, runs_dir: str | Path, run_id: str = "") -> RunFolder:
        """Run `run_id` under `runs_dir`, or the latest when `run_id` is "" or "latest"."""
        if not run_id or run_id == LATEST:
            return cls.latest(runs_dir)
        return cls((Path(config.resolve(runs_dir)) / run_id).resolve())
