-- The questions a researcher asks of a build, one result each. Run unchanged on the local catalog
-- (`stedi sql sql/summary_queries.sql --limit 1000`) and on Athena, under either policy.
-- They read the curated tables and step_trainer_trusted (one row per step trainer reading, no direct
-- identifier), and name a customer by their device's serialNumber, the subject key of the strict ML
-- table: never by name, email, phone or birthday. Times are epoch milliseconds, months are UTC.

-- Readings per customer and device: each curated customer's step trainer readings and the ML rows
-- pairing them with the owner's accelerometer (under udacity: with any accelerometer reading of that
-- instant), with the customer's research consent time.
SELECT c.serialNumber,
       c.shareWithResearchAsOfDate,
       coalesce(s.step_readings, 0) AS step_readings,
       coalesce(m.ml_rows, 0) AS ml_rows,
       s.first_reading,
       s.last_reading
FROM customer_curated c
LEFT JOIN (
  SELECT serialNumber, COUNT(*) AS step_readings,
         MIN(sensorReadingTime) AS first_reading, MAX(sensorReadingTime) AS last_reading
  FROM step_trainer_trusted
  GROUP BY serialNumber
) s ON s.serialNumber = c.serialNumber
LEFT JOIN (
  SELECT serialNumber, COUNT(*) AS ml_rows FROM machine_learning_curated GROUP BY serialNumber
) m ON m.serialNumber = c.serialNumber
ORDER BY ml_rows DESC, c.serialNumber;

-- Consent over time: curated customers by the month their research consent starts, and the running total.
SELECT consent_year, consent_month, customers,
       SUM(customers) OVER (ORDER BY consent_year, consent_month) AS customers_so_far
FROM (
  SELECT year(from_unixtime(shareWithResearchAsOfDate / 1000)) AS consent_year,
         month(from_unixtime(shareWithResearchAsOfDate / 1000)) AS consent_month,
         COUNT(*) AS customers
  FROM customer_curated
  GROUP BY year(from_unixtime(shareWithResearchAsOfDate / 1000)),
           month(from_unixtime(shareWithResearchAsOfDate / 1000))
) per_month
ORDER BY consent_year, consent_month;

-- Distance per device: the step trainer's distanceFromObject over each device's readings
-- (the median is approximate, as approx_percentile computes it on each engine).
SELECT serialNumber,
       COUNT(*) AS readings,
       MIN(distanceFromObject) AS min_distance,
       MAX(distanceFromObject) AS max_distance,
       round(avg(distanceFromObject), 1) AS mean_distance,
       approx_percentile(distanceFromObject, 0.5) AS median_distance
FROM step_trainer_trusted
GROUP BY serialNumber
ORDER BY serialNumber
