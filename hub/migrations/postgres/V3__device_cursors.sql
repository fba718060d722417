-- What the hub last acknowledged to each device and last served it (its upload and download
-- cursors as the hub knows them; exchange.rs): a registry restored from a backup holds the
-- values of the backup's time, and a device ahead of them is asked to send again what the
-- restored registry lost, and served again from where the registry had got to.
ALTER TABLE devices ADD COLUMN acked_through BIGINT, ADD COLUMN served_through BIGINT;
