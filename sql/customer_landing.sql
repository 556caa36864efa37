-- Athena DDL of customer_landing: the cleaned JSON lines of the landing zone.
-- Column names and types are the declared ones (src/stedi/tables.py; tests/test_sql.py keeps them equal).
-- Replace <bucket> with your lake's bucket (with --prefix P the location is s3://<bucket>/P/lake/...);
-- `stedi aws publish` registers the table for you.
CREATE EXTERNAL TABLE IF NOT EXISTS `stedi`.`customer_landing` (
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
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'FALSE', 'dots.in.keys' = 'FALSE', 'case.insensitive' = 'TRUE')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://<bucket>/lake/landing/customer_landing/'
TBLPROPERTIES ('classification' = 'json');
