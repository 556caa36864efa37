"""The tables a zone notebook shows of its step (stedi.run.step.Step): the intake's accounting
per landing table and the quality results of every rule evaluated, as pandas frames."""

from __future__ import annotations


class StepSummaries:
    """Mixed into Step: reads its `intake` and `quality` records."""

    def intake_summary(self):
        """Per landing table: read, landed, quarantined (by reason), duplicates dropped."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "table": name,
                    **{k: v for k, v in acc.items() if k not in ("quarantine_path", "source")},
                }
                for name, acc in self.intake.items()
            ]
        )

    def quality_summary(self):
        """Every rule evaluated in this step: table, rule, severity, rows checked and failing,
        outcome."""
        import pandas as pd

        return pd.DataFrame(
            [{"table": t, **r} for t, results in self.quality.items() for r in results]
        )
