-- The schema version table (omniq_sqlite._sql): one row per component ("tasks",
-- "results", "events") holding the version of that component's tables in this file, so a
-- database holding only results is versioned too. Touches omniq_schema_version only.

-- name: create_version_table
CREATE TABLE IF NOT EXISTS omniq_schema_version (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)

-- name: all_versions
SELECT component, version FROM omniq_schema_version

-- name: set_version
-- Record that component ? is now at version ?.
INSERT INTO omniq_schema_version (component, version) VALUES (?, ?)
ON CONFLICT (component) DO UPDATE SET version = excluded.version
