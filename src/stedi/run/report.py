"""A run folder as pages to look at: `index.html` and HTML exports of every executed notebook.

- `export_reports(run_dir, step_names)` writes, for each executed notebook
  `<run_dir>/<name>.ipynb`, `<name>.html` (outputs only, for readers) and
  `<name>.code.html` (with the code, for engineers).
- `write_index(run_dir, manifest)` writes `<run_dir>/index.html` from the template
  `templates/index.html.j2` (styled by `templates/report.css`): status, policy, the steps
  with their durations and reports, the row counts with the consent funnel and the run that
  built each table, the intake accounting (quarantine), the data-quality results and the
  balance analysis figures. A step skipped as up to date shows as such, linked to the run
  that last ran it; its tables' counts, intake and quality are those that run recorded
  (stedi.run.runner), so the page of a run with nothing new shows the lake as it is.
  Figures are embedded (base64), so the page works wherever it is copied; each also
  links its PNG file. They come in the order the analysis saved them (its captions.json),
  then any other PNG by name.
- `refresh(folder)` re-exports a run's notebooks and rewrites its index (`stedi report`).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
from pathlib import Path

from stedi.atomic_files import write_atomic
from stedi.run.folder import RunFolder

READER_SUFFIX = ".html"
CODE_SUFFIX = ".code.html"
# The figure shown beside the row counts; the others make the analysis section.
FUNNEL_FIGURE = "funnel"
# What a step's row links to: (manifest key, file suffix, label).
REPORT_LINKS = (
    ("html", READER_SUFFIX, "report"),
    ("code_html", CODE_SUFFIX, "with code"),
    ("notebook", ".ipynb", "notebook"),
)
QUALITY_OUTCOMES = ("passed", "warned", "quarantined", "failed")
TEMPLATE = "index.html.j2"
STYLESHEET = "report.css"


# -- notebook exports ------------------------------------------------------------
@functools.cache
def _exporter(with_code: bool):
    """One HTML exporter per kind for the process: each new one loads its templates and styles
    again (a run's twelve exports took 2.2 s with a new exporter each, 0.8 s with these two)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(
        exclude_input=not with_code, exclude_input_prompt=not with_code, exclude_output_prompt=True
    )


def export_notebook(notebook_path: Path, html_path: Path, with_code: bool) -> Path:
    """`notebook_path` as a standalone HTML page, with or without its code cells' input."""
    import nbformat

    body, _ = _exporter(with_code).from_notebook_node(nbformat.read(notebook_path, as_version=4))
    return write_atomic(html_path, body)


def export_reports(
    run_dir: str | Path, step_names: list[str] | tuple[str, ...] | None = None
) -> dict[str, dict[str, str]]:
    """HTML exports of the executed notebooks of `step_names` (default: every notebook in the run
    folder).

    Returns step name -> {"html": "<name>.html", "code_html": "<name>.code.html"} (file names in
    the run folder) for each step whose executed notebook exists; the others are skipped.
    """
    run_dir = Path(run_dir)
    if step_names is None:
        step_names = sorted(p.stem for p in run_dir.glob("*.ipynb"))
    exported: dict[str, dict[str, str]] = {}
    for name in step_names:
        notebook = run_dir / f"{name}.ipynb"
        if not notebook.is_file():
            continue
        reader = export_notebook(notebook, run_dir / f"{name}{READER_SUFFIX}", with_code=False)
        code = export_notebook(notebook, run_dir / f"{name}{CODE_SUFFIX}", with_code=True)
        exported[name] = {"html": reader.name, "code_html": code.name}
    return exported


def refresh(folder: RunFolder) -> Path:
    """Re-export the notebooks of the run in `folder` and rewrite its index; returns index.html."""
    manifest = folder.read_manifest()
    if manifest is None:
        raise FileNotFoundError(f"{folder.path} has no manifest.json")
    names = [s["name"] for s in manifest.get("steps", [])] or None
    export_reports(folder.path, names)
    return write_index(folder.path, manifest)


# -- the index page --------------------------------------------------------------
def _thousands(value) -> str:
    """A count: thousands separators, an em dash when unknown."""
    import jinja2

    if value is None or value == "" or isinstance(value, jinja2.Undefined):
        return "—"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def _clip(text, limit: int = 180) -> str:
    text = "" if text is None else str(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _figures(folder: RunFolder) -> list[dict]:
    """The run's PNG figures: in captions.json's order (as the analysis saved them), then the others
    by name."""
    captions = folder.captions()
    found = {p.stem: p for p in folder.figures()}
    order = [n for n in captions if n in found] + [n for n in sorted(found) if n not in captions]
    figures = []
    for name in order:
        meta = captions.get(name, {})
        figures.append(
            {
                "name": name,
                "title": meta.get("title") or name.replace("_", " "),
                "caption": meta.get("caption", ""),
                "data": base64.b64encode(found[name].read_bytes()).decode("ascii"),
                "link": found[name].relative_to(folder.path).as_posix(),
            }
        )
    return figures


UP_TO_DATE = "up to date"


def _steps(run_dir: Path, manifest: dict) -> list[dict]:
    """The manifest's steps with their duration bar's width and the links to their reports; a
    skipped step's links go to the reports of the run that last ran it (a sibling run folder)."""
    steps = manifest.get("steps") or []
    longest = max(((s.get("seconds") or 0) for s in steps), default=0) or 1
    shown = []
    for s in steps:
        links = []
        if s.get("skipped"):
            built = s.get("run")
            if built and (run_dir.parent / built / f"{s['name']}{READER_SUFFIX}").is_file():
                links.append((f"report of run {built}", f"../{built}/{s['name']}{READER_SUFFIX}"))
            elif built and (run_dir.parent / built / "index.html").is_file():
                links.append((f"run {built}", f"../{built}/index.html"))
            elif built:
                links.append((f"run {built}", ""))
        else:
            for key, suffix, label in REPORT_LINKS:
                target = s.get(key) or f"{s['name']}{suffix}"
                if s.get(key) or (run_dir / target).is_file():
                    links.append((label, target))
        seconds = s.get("seconds") or 0
        width = 100 * seconds / longest
        status = UP_TO_DATE if s.get("skipped") else s.get("status", "")
        shown.append({**s, "status": status, "seconds": seconds, "width": width, "links": links})
    return shown


def _builders(run_id: str, manifest: dict) -> dict[str, str]:
    """Table -> what the Row counts say built it: "this run", "run <id>", "outside stedi run", or
    ""."""
    found = {}
    for name, t in (manifest.get("tables") or {}).items():
        built = t.get("run")
        if built is None:
            found[name] = ""
        elif built == run_id:
            found[name] = "this run"
        else:
            found[name] = f"run {built}" if built else "outside stedi run"
    return found


def _quality(manifest: dict) -> dict:
    quality = manifest.get("quality") or {}
    results = [(table, r) for table, rs in quality.items() for r in rs]
    summary = [
        (table, len(rs), {o: sum(r.get("outcome") == o for r in rs) for o in QUALITY_OUTCOMES})
        for table, rs in quality.items()
    ]
    return {
        "results": results,
        "outcomes": QUALITY_OUTCOMES,
        "summary": summary,
        "flagged": [(t, r) for t, r in results if r.get("outcome") != "passed"],
        "passed": [(t, r) for t, r in results if r.get("outcome") == "passed"],
    }


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("stedi.run", "templates"),
        autoescape=True,
        keep_trailing_newline=True,
        finalize=lambda value: (
            "" if value is None else value
        ),  # a missing manifest value shows as nothing
    )
    env.filters["thousands"] = _thousands
    env.filters["clip"] = _clip
    return env


def write_index(run_dir: str | Path, manifest: dict) -> Path:
    """Write `<run_dir>/index.html` for `manifest` (see the module doc); returns its path."""
    from markupsafe import Markup

    folder = RunFolder(run_dir)
    env = _environment()
    css, _, _ = env.loader.get_source(env, STYLESHEET)
    seconds = manifest.get("seconds")
    run_id = manifest.get("run_id") or folder.run_id
    steps = manifest.get("steps") or []
    page = env.get_template(TEMPLATE).render(
        manifest=manifest,
        run_id=run_id,
        status=manifest.get("status", "unknown"),
        seconds=seconds if isinstance(seconds, (int, float)) else None,
        failed_steps=[s for s in steps if s.get("status") == "failed"],
        interrupted_steps=[s for s in steps if s.get("status") == "interrupted"],
        skipped=[s for s in steps if s.get("skipped")],
        nothing_new=bool(steps) and all(s.get("skipped") for s in steps),
        builders=_builders(run_id, manifest),
        steps=_steps(folder.path, manifest),
        quality=_quality(manifest),
        figures=_figures(folder),
        funnel_figure=FUNNEL_FIGURE,
        css=Markup(css),
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return write_atomic(folder.index_path, page)
