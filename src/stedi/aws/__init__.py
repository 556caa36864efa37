"""AWS: publish the lake to S3 and the Glue Data Catalog (publish, catalog), query it with Athena
(query)."""
