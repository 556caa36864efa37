"""AWS: publish the lake to S3 and the Glue Data Catalog, and query it with Athena (awswrangler)."""
