-- The flag-units cursor the hub last answered each device with (exchange.rs): a device whose
-- cursor is past it holds listings a restored registry lost, and is served again from here, so
-- the listings the restored registry numbers anew below the device's cursor still reach it.
ALTER TABLE devices ADD COLUMN flag_units_served BIGINT;
