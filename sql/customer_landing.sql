-- Athena DDL of customer_landing: an Apache Iceberg table of the landing zone (cleaned records, one per source record).
-- Column names and types are the declared ones (src/stedi/core/tables.py; tests/lake/test_sql.py keeps them equal).
-- `stedi run --lake-dir s3://<bucket>/lake` and `stedi aws publish` create and register it for you
-- (pyiceberg, in the Glue Data Catalog), with no column statistics for identifier columns in its
-- manifests; this DDL makes the same empty table from Athena. Replace <bucket> with your lake's
-- bucket (with a prefix P the location is s3://<bucket>/P/lake/...).
CREATE TABLE IF NOT EXISTS `stedi`.`customer_landing` (
  `customerName` string,
  `email` string,
  `phone` string,
  `birthDay` string,
  `serialNumber` string,
  `registrationDate` bigint,
  `lastUpdateDate` bigint,
  `shareWithResearchAsOfDate` bigint,
  `shareWithPublicAsOfDate` bigint,
  `shareWithFriendsAsOfDate` bigint
)
LOCATION 's3://<bucket>/lake/landing/customer_landing/'
TBLPROPERTIES ('table_type' = 'ICEBERG');
