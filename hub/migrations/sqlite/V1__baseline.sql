-- Version 1 is the schema every registry made before versions were kept is brought to by the
-- hub's built-in steps (`registry::schema::migrate`, run at every start): those steps are
-- idempotent and stay as they are. Each change after this one is a migration of its own,
-- numbered, applied once and recorded, so a hub can tell a schema it does not know.
SELECT 1;
