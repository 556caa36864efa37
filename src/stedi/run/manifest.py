"""A run's manifest (`runs/<run_id>/manifest.json`, stedi.run.runner): built from its steps'
completion records (`manifest_for`), and read back to resume a run (`resume_state`) or to
compare with the previous one (`latest_manifest`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from stedi.core.tables import TABLES
from stedi.errors import UsageError
from stedi.run.folder import RunFolder
from stedi.run.options import RunOptions


def manifest_for(
    run_id: str, options: RunOptions, steps: list[dict], status: str, seconds: float
) -> dict:
    tables: dict[str, dict] = {}
    intake: dict[str, dict] = {}
    quality: dict[str, list] = {}
    for step in steps:
        record = step.get("record") or {}
        for name, written in record.get("tables", {}).items():
            # "run": the run that built the table: this one, or for a skipped step the one recorded.
            tables[name] = {
                **{k: written[k] for k in ("zone", "rows", "path")},
                "snapshot_id": written.get("snapshot_id"),
                "run": written.get("run", run_id),
            }
        intake.update(record.get("intake", {}))
        quality.update(record.get("quality", {}))
    ordered = {name: tables[name] for name in TABLES if name in tables}
    consent: dict = {}
    erasures: list = []
    for step in steps:
        record = step.get("record") or {}
        found = record.get("consent") or {}
        if any((found.get("changes") or {}).values()):
            consent["changes"] = {
                change: [{k: p[k] for k in ("id", "why")} for p in people]
                for change, people in found["changes"].items()
            }
        consent.setdefault("rows", {}).update(found.get("rows", {}))
        erasures += record.get("erasures", [])
    return {
        "run_id": run_id,
        "status": status,
        "policy": options.policy,
        "engine": options.engine,
        "target": options.target,
        "raw_dir": options.raw,
        "lake_dir": options.lake,
        "seconds": round(seconds, 2),
        "tables": ordered,
        "intake": intake,
        "quality": quality,
        "consent_changes": consent if consent.get("changes") else {},
        "erasures": erasures,
        "steps": [{k: v for k, v in step.items() if k != "record"} for step in steps],
        "options": dataclasses.asdict(options),
    }


def resume_state(runs_dir: Path, resume: str) -> tuple[RunOptions, RunFolder, list[dict]]:
    """The options, folder and finished steps of the run to resume ("latest" or a run id)."""
    try:
        found = RunFolder.find(runs_dir, resume)
    except FileNotFoundError:
        raise UsageError(f"no run {resume} to resume in {runs_dir}") from None
    manifest = found.read_manifest()
    if manifest is None:
        raise UsageError(f"no run {resume} to resume in {runs_dir}")
    if manifest["status"] == "succeeded":
        raise UsageError(f"run {manifest['run_id']} succeeded; there is nothing to resume")
    # A manifest from before engines were a choice: its run was on Spark.
    options = RunOptions(**{"engine": "spark", **manifest["options"], "runs_dir": str(runs_dir)})
    folder = RunFolder(found.path, options.record_dir(found.path))
    finished: list[dict] = []
    for step, entry in zip(options.selected_steps(), manifest["steps"]):
        record = folder.read_record(step.name)
        if entry["name"] != step.name or entry["status"] != "succeeded" or record is None:
            break
        finished.append({**entry, "record": record, "reused": True})
    return options, folder, finished


def latest_manifest(runs_dir: Path) -> dict | None:
    """The manifest of the newest run in `runs_dir`, before this run becomes the latest; None if
    none."""
    try:
        return RunFolder.latest(runs_dir).read_manifest()
    except (OSError, ValueError):
        return None
