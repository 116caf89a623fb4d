-- Installed by the test infrastructure into each PostgreSQL database it gives a local FerretDB v1.
-- FerretDB v1 stores a collection as a table of one jsonb column and pushes an equality filter
-- down as `_jsonb -> 'field' @> 'value'`, which its own btree indexes cannot serve: every look-up
-- scans the table (measured: ~100 ms per findOne by _id with 20,000 connections, ~5 ms with
-- 1,000). This event trigger gives each table FerretDB creates a GIN index per field the services
-- look connections up by, and the database plans each statement with its values
-- (plan_cache_mode, set by the caller), so the same look-up takes ~4 ms at 20,000.
-- fastupdate is off: with it on (PostgreSQL's default) every new entry waits in the index's pending
-- list, which only a VACUUM or 4 MB of entries folds into the index, and every look-up reads the
-- whole list. Without autovacuum (CI's PostgreSQL runs without) that list held every connection
-- stored and every update since: a look-up by _id read 50 pages with 20,000 stored, its cost grew
-- with the data (bench:loop: 177 activations/s with 2,000 stored, 131 with 21,000).
CREATE OR REPLACE FUNCTION ferretdb_index_lookup_fields() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
  created record;
  field text;
BEGIN
  FOR created IN
    SELECT * FROM pg_event_trigger_ddl_commands()
    WHERE command_tag = 'CREATE TABLE' AND object_identity NOT LIKE '%._ferretdb_%'
  LOOP
    FOREACH field IN ARRAY ARRAY['_id', 'subscriptionId', 'connectionId', 'state'] LOOP
      EXECUTE format(
        'CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L) jsonb_path_ops)'
        ' WITH (fastupdate = off)',
        left(replace(created.object_identity, '.', '_'), 40) || '_' || lower(field) || '_lookup',
        created.object_identity, field);
    END LOOP;
  END LOOP;
END $$;
CREATE EVENT TRIGGER ferretdb_index_lookup_fields ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION ferretdb_index_lookup_fields();
