-- Row counts of every table of a build, one row each: compare with the manifest and the README.
-- Runs unchanged on the local catalog (`stedi sql sql/validate_counts.sql`) and on Athena.
SELECT 'customer_landing' AS table_name, COUNT(*) AS row_count FROM customer_landing
UNION ALL SELECT 'accelerometer_landing', COUNT(*) FROM accelerometer_landing
UNION ALL SELECT 'step_trainer_landing', COUNT(*) FROM step_trainer_landing
UNION ALL SELECT 'customer_trusted', COUNT(*) FROM customer_trusted
UNION ALL SELECT 'accelerometer_trusted', COUNT(*) FROM accelerometer_trusted
UNION ALL SELECT 'step_trainer_trusted', COUNT(*) FROM step_trainer_trusted
UNION ALL SELECT 'customer_curated', COUNT(*) FROM customer_curated
UNION ALL SELECT 'machine_learning_curated', COUNT(*) FROM machine_learning_curated
