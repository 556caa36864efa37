"""The analysis's output in the run folder: each figure with its title and caption, and the step's
completion record.

The run folder's layout is `stedi.run.folder.RunFolder`'s; captions.json lists the figures
in the order they were saved, which is the order the run's page shows them.
"""

from __future__ import annotations

from pathlib import Path

from stedi.display import in_notebook, show_image
from stedi.run.folder import RunFolder
from stedi.run.pipeline import ANALYSIS, PIPELINE

# The analysis as a step of the pipeline: the name its completion record goes under.
STEP = next(step for step in PIPELINE if step.kind == ANALYSIS)


def save_figure(
    fig, run_dir: str | Path | None, name: str, title: str = "", caption: str = ""
) -> Path | None:
    """Save `fig` as the run folder's figure `name` (PNG), with its title and caption, when run_dir
    is set.

    In a notebook the saved PNG is what the cell shows: the figure is closed, so the inline
    backend does not draw it a second time at the end of the cell."""
    if not run_dir:
        return None
    folder = RunFolder(run_dir)
    folder.figures_dir.mkdir(parents=True, exist_ok=True)
    path = folder.figures_dir / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    folder.write_caption(name, title, caption)
    if in_notebook():
        import matplotlib.pyplot as plt

        plt.close(fig)
        show_image(path)
    return path


def finish(run_dir: str | Path | None, figures: list, seconds: float | None = None) -> dict:
    """The analysis's completion record, written into the run folder when run_dir is set."""
    record = {
        "step": STEP.name,
        "status": "succeeded",
        "figures": [Path(f).name for f in figures if f],
    }
    if seconds is not None:
        record["seconds"] = round(seconds, 2)
    if run_dir:
        RunFolder(run_dir).write_record(STEP.name, record)
    return record
