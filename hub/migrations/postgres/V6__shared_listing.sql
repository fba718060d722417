-- A unit two organisations' flags list for one fact (the receiver's and the manufacturer's, for
-- a receipt with no shipment on record) is one row of the listing, not two (listing.rs,
-- `raise_all`): the second organisation's fact, flag and organisation are kept beside the
-- first's, and the row reaches each organisation's devices under its own flag.
ALTER TABLE flag_units ADD COLUMN also_key TEXT;
ALTER TABLE flag_units ADD COLUMN also_flag TEXT;
ALTER TABLE flag_units ADD COLUMN also_org TEXT;
CREATE INDEX flag_units_by_also_org ON flag_units (also_org, seq) WHERE also_org IS NOT NULL;
CREATE INDEX flag_units_by_also_flag ON flag_units (also_flag, seq) WHERE also_flag IS NOT NULL;
