"""The compute engine: the Spark session (local or the GlueContext), Java for Spark, and the local
Glue-magics kernel."""
