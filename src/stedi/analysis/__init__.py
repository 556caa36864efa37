"""The exploratory balance analysis's computations; `notebooks/balance_analysis.ipynb` plots them.

One module per section of the notebook, in its order, each holding the Spark aggregates of
its section and the sentences that read them (so no number in the prose is typed by hand);
the last two serve them all:

    funnel         rows per table under both policies, recomputed from the landing tables
                   through the pipeline's declaration (stedi.run.pipeline.derive)
    readings       readings per value, per customer and device; sampling intervals
    distance       distanceFromObject: distribution, per-device series, autocorrelation
    accelerometer  x/y/z values and magnitude
    alignment      how step trainer readings and accelerometer readings line up
    signal         does the accelerometer say anything about distance? (split by device)
    findings       the run's intake and data-quality results, from its manifest
    figures        saving a figure into the run folder, and the step's completion record
    formatting     counts and percentages as the sentences print them
"""
