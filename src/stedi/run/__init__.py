"""The run machinery: the pipeline declared once, the zone-step protocol, papermill execution, the
run folder, reports."""
