"""The plot of a benchmark run (benchmarks/report.py writes the rest): time_vs_scale.png, the
pipeline's time against the scale, per engine, beside the DuckDB and Spark SQL references."""

from __future__ import annotations

from pathlib import Path

from pipeline_runs import succeeded
from stedi.config import ENGINES
from targets import (
    engines_of,
    spark_sql,
)


def write_plot(path: Path, results: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scales = [r["scale"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    sparks = [(r["scale"], spark_sql(r)["seconds"]) for r in results if spark_sql(r)]
    for engine, color in zip(ENGINES, ("tab:orange", "tab:blue")):
        if engine not in engines_of(results, None):
            continue
        ok = [r for r in results if succeeded(r["engines"][engine])]
        xs = [r["scale"] for r in ok]
        if ok:
            ax.plot(
                xs,
                [r["engines"][engine]["seconds"] for r in ok],
                marker="o",
                color=color,
                label=f"stedi run, {engine}",
            )
            ax.plot(
                xs,
                [r["engines"][engine]["steps_seconds"] for r in ok],
                marker="o",
                ls="--",
                color=color,
                label=f"zone steps, {engine}",
            )
            # the growth target's base when there
            anchor = next((r for r in ok if r["scale"] == 10.0), ok[0])
            x0, t0 = anchor["scale"], anchor["engines"][engine]["seconds"]
            ax.plot(scales, [t0 * s / x0 for s in scales], ls=":", color=color, lw=0.8)
        for r in results:
            if not succeeded(r["engines"][engine]):
                ax.plot(
                    [r["scale"]],
                    [r["engines"][engine]["seconds"]],
                    marker="x",
                    color="red",
                    ls="none",
                    ms=10,
                )
                ax.annotate(
                    f"{engine} failed",
                    (r["scale"], r["engines"][engine]["seconds"]),
                    fontsize=8,
                    color="red",
                )
    ax.plot(
        scales,
        [r["duckdb"]["seconds"] for r in results],
        marker="s",
        ls="-.",
        color="tab:green",
        label="DuckDB reference",
    )
    if sparks:
        ax.plot(*zip(*sparks), marker="s", ls="-.", color="tab:brown", label="Spark SQL reference")
    ax.plot([], [], ls=":", color="grey", lw=0.8, label="stedi run growing linearly from N=10")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="scale N (x the real data: 956 N customers)",
        ylabel="seconds",
        title="STEDI pipeline time against data size (2 cores)",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
