-- Every table's columns and types against the declared ones (src/stedi/core/tables.py), through the
-- catalog's information schema: one row per table, 0 problems and an empty detail when it matches.
-- Runs unchanged on the local catalog (`stedi sql sql/validate_schema.sql`) and on Athena.
-- On Athena, information_schema.columns describes the Glue Data Catalog's table entries. Locally,
-- `stedi sql` provides one describing what each table's files hold (src/stedi/lake/information_schema.py).
-- Types are compared in Athena's (Trino's) names: Spark's and Hive's string and int are varchar and
-- integer here. Names are compared in lower case (the Glue Data Catalog stores them so) and by name,
-- not position (Athena and Spark read Parquet and JSON columns by name).
-- machine_learning_curated has one layout per policy: it matches when one of them does (`layout`).
-- The database is `stedi` (table_schema below): with `stedi aws query --database D`, write D there.
-- tests/lake/test_sql.py keeps the declared list equal to tables.py.
WITH declared AS (
  SELECT * FROM (VALUES
    ('customer_landing', 'any', 'customerName', 'varchar'),
    ('customer_landing', 'any', 'email', 'varchar'),
    ('customer_landing', 'any', 'phone', 'varchar'),
    ('customer_landing', 'any', 'birthDay', 'varchar'),
    ('customer_landing', 'any', 'serialNumber', 'varchar'),
    ('customer_landing', 'any', 'registrationDate', 'bigint'),
    ('customer_landing', 'any', 'lastUpdateDate', 'bigint'),
    ('customer_landing', 'any', 'shareWithResearchAsOfDate', 'bigint'),
    ('customer_landing', 'any', 'shareWithPublicAsOfDate', 'bigint'),
    ('customer_landing', 'any', 'shareWithFriendsAsOfDate', 'bigint'),
    ('accelerometer_landing', 'any', 'user', 'varchar'),
    ('accelerometer_landing', 'any', 'timestamp', 'bigint'),
    ('accelerometer_landing', 'any', 'x', 'double'),
    ('accelerometer_landing', 'any', 'y', 'double'),
    ('accelerometer_landing', 'any', 'z', 'double'),
    ('step_trainer_landing', 'any', 'sensorReadingTime', 'bigint'),
    ('step_trainer_landing', 'any', 'serialNumber', 'varchar'),
    ('step_trainer_landing', 'any', 'distanceFromObject', 'integer'),
    ('customer_trusted', 'any', 'customerName', 'varchar'),
    ('customer_trusted', 'any', 'email', 'varchar'),
    ('customer_trusted', 'any', 'phone', 'varchar'),
    ('customer_trusted', 'any', 'birthDay', 'varchar'),
    ('customer_trusted', 'any', 'serialNumber', 'varchar'),
    ('customer_trusted', 'any', 'registrationDate', 'bigint'),
    ('customer_trusted', 'any', 'lastUpdateDate', 'bigint'),
    ('customer_trusted', 'any', 'shareWithResearchAsOfDate', 'bigint'),
    ('customer_trusted', 'any', 'shareWithPublicAsOfDate', 'bigint'),
    ('customer_trusted', 'any', 'shareWithFriendsAsOfDate', 'bigint'),
    ('accelerometer_trusted', 'any', 'user', 'varchar'),
    ('accelerometer_trusted', 'any', 'timestamp', 'bigint'),
    ('accelerometer_trusted', 'any', 'x', 'double'),
    ('accelerometer_trusted', 'any', 'y', 'double'),
    ('accelerometer_trusted', 'any', 'z', 'double'),
    ('step_trainer_trusted', 'any', 'sensorReadingTime', 'bigint'),
    ('step_trainer_trusted', 'any', 'serialNumber', 'varchar'),
    ('step_trainer_trusted', 'any', 'distanceFromObject', 'integer'),
    ('customer_curated', 'any', 'customerName', 'varchar'),
    ('customer_curated', 'any', 'email', 'varchar'),
    ('customer_curated', 'any', 'phone', 'varchar'),
    ('customer_curated', 'any', 'birthDay', 'varchar'),
    ('customer_curated', 'any', 'serialNumber', 'varchar'),
    ('customer_curated', 'any', 'registrationDate', 'bigint'),
    ('customer_curated', 'any', 'lastUpdateDate', 'bigint'),
    ('customer_curated', 'any', 'shareWithResearchAsOfDate', 'bigint'),
    ('customer_curated', 'any', 'shareWithPublicAsOfDate', 'bigint'),
    ('customer_curated', 'any', 'shareWithFriendsAsOfDate', 'bigint'),
    ('machine_learning_curated', 'strict', 'sensorReadingTime', 'bigint'),
    ('machine_learning_curated', 'strict', 'serialNumber', 'varchar'),
    ('machine_learning_curated', 'strict', 'distanceFromObject', 'integer'),
    ('machine_learning_curated', 'strict', 'timestamp', 'bigint'),
    ('machine_learning_curated', 'strict', 'x', 'double'),
    ('machine_learning_curated', 'strict', 'y', 'double'),
    ('machine_learning_curated', 'strict', 'z', 'double'),
    ('machine_learning_curated', 'udacity', 'sensorReadingTime', 'bigint'),
    ('machine_learning_curated', 'udacity', 'serialNumber', 'varchar'),
    ('machine_learning_curated', 'udacity', 'distanceFromObject', 'integer'),
    ('machine_learning_curated', 'udacity', 'user', 'varchar'),
    ('machine_learning_curated', 'udacity', 'timestamp', 'bigint'),
    ('machine_learning_curated', 'udacity', 'x', 'double'),
    ('machine_learning_curated', 'udacity', 'y', 'double'),
    ('machine_learning_curated', 'udacity', 'z', 'double')
  ) AS d (table_name, layout, column_name, data_type)
),
found AS (
  SELECT lower(table_name) AS table_name, lower(column_name) AS column_name,
         CASE lower(data_type)
           WHEN 'string' THEN 'varchar' WHEN 'int' THEN 'integer'
           WHEN 'float' THEN 'real' WHEN 'binary' THEN 'varbinary'
           ELSE lower(data_type)
         END AS data_type
  FROM information_schema.columns
  WHERE table_schema = 'stedi'
),
layouts AS (SELECT DISTINCT table_name, layout FROM declared),
present AS (SELECT DISTINCT table_name FROM found),
problems AS (
  SELECT l.table_name, l.layout, 'table not in the catalog' AS problem
  FROM layouts l
  WHERE l.table_name NOT IN (SELECT table_name FROM present)
  UNION ALL
  SELECT d.table_name, d.layout, 'missing column ' || d.column_name || ' ' || d.data_type
  FROM declared d
  WHERE d.table_name IN (SELECT table_name FROM present)
    AND NOT EXISTS (
      SELECT 1 FROM found f WHERE f.table_name = d.table_name AND f.column_name = lower(d.column_name)
    )
  UNION ALL
  SELECT d.table_name, d.layout, 'column ' || d.column_name || ' is ' || f.data_type || ', declared ' || d.data_type
  FROM declared d JOIN found f ON f.table_name = d.table_name AND f.column_name = lower(d.column_name)
  WHERE f.data_type <> d.data_type
  UNION ALL
  SELECT l.table_name, l.layout, 'undeclared column ' || f.column_name || ' ' || f.data_type
  FROM layouts l JOIN found f ON f.table_name = l.table_name
  WHERE NOT EXISTS (
    SELECT 1 FROM declared d
    WHERE d.table_name = l.table_name AND d.layout = l.layout AND lower(d.column_name) = f.column_name
  )
),
counted AS (
  SELECT table_name, layout, COUNT(*) AS problems, array_join(array_sort(array_agg(problem)), ' | ') AS detail
  FROM problems
  GROUP BY table_name, layout
),
ranked AS (
  SELECT l.table_name, l.layout, coalesce(c.problems, 0) AS problems, coalesce(c.detail, '') AS detail,
         row_number() OVER (PARTITION BY l.table_name ORDER BY coalesce(c.problems, 0), l.layout) AS closest
  FROM layouts l LEFT JOIN counted c ON c.table_name = l.table_name AND c.layout = l.layout
)
SELECT table_name, layout, problems, detail
FROM ranked
WHERE closest = 1
ORDER BY table_name
