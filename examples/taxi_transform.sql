-- The TFX taxi preprocessing (taxi_utils.preprocessing_fn) as weir transform SQL.
SELECT
  scale_to_z_score(coalesce(fare, 0)) AS fare_xf,
  scale_to_z_score(coalesce(trip_miles, 0)) AS trip_miles_xf,
  scale_to_z_score(coalesce(trip_seconds, 0)) AS trip_seconds_xf,
  compute_and_apply_vocabulary(coalesce(payment_type, ''), 1000, 1, 10) AS payment_type_xf,
  compute_and_apply_vocabulary(coalesce(company, ''), 1000, 1, 10) AS company_xf,
  bucketize(coalesce(pickup_latitude, 0), 10) AS pickup_latitude_xf,
  bucketize(coalesce(pickup_longitude, 0), 10) AS pickup_longitude_xf,
  bucketize(coalesce(dropoff_latitude, 0), 10) AS dropoff_latitude_xf,
  bucketize(coalesce(dropoff_longitude, 0), 10) AS dropoff_longitude_xf,
  coalesce(trip_start_hour, 0) AS trip_start_hour_xf,
  coalesce(trip_start_day, 0) AS trip_start_day_xf,
  coalesce(trip_start_month, 0) AS trip_start_month_xf,
  coalesce(pickup_census_tract, 0) AS pickup_census_tract_xf,
  coalesce(dropoff_census_tract, 0) AS dropoff_census_tract_xf,
  coalesce(pickup_community_area, 0) AS pickup_community_area_xf,
  coalesce(dropoff_community_area, 0) AS dropoff_community_area_xf,
  CASE WHEN fare IS NULL THEN 0 WHEN tips > fare * CAST(0.2 AS FLOAT) THEN 1 ELSE 0 END AS tips_xf
FROM input;
