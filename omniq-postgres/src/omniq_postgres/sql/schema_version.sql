-- The schema version table (omniq_postgres._engine): one row per component ("tasks",
-- "results", "events") holding the version of that component's tables in the project's
-- schema. Touches omniq_schema_version only, qualified with the schema when loaded.

-- name: create_table
CREATE TABLE IF NOT EXISTS omniq_schema_version (
    component TEXT PRIMARY KEY,
    version INTEGER NOT NULL
)

-- name: get_version
-- The version of component $1.
SELECT version FROM omniq_schema_version WHERE component = $1

-- name: set_version
-- Record that component $1 is now at version $2.
INSERT INTO omniq_schema_version (component, version) VALUES ($1, $2)
ON CONFLICT (component) DO UPDATE SET version = excluded.version
