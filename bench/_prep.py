"""Check the servers and prepare the bench's own space on them; print a JSON report.

Run by ``bench/run.py`` with the peers' interpreter (it has redis-py, psycopg and nats-py):

- Redis: PING; the bench's database (15 by default) must be empty or carry the bench's owner
  marker (a database holding someone else's keys is refused, never flushed); it is then
  flushed and marked.
- PostgreSQL: connect to the admin database (``test``), create ``omniq_bench`` if missing, and
  empty it (drop every schema, recreate ``public``).
- NATS: connect and check JetStream is enabled.

``--cleanup`` empties the same places at the end of a run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from urllib.parse import urlsplit, urlunsplit

OWNER_KEY = "omniq-bench:owner"


def prep_redis(url: str, cleanup: bool) -> dict[str, object]:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
        version = client.info("server")["redis_version"]
        size = client.dbsize()
        if size and not client.exists(OWNER_KEY):
            db = client.connection_pool.connection_kwargs.get("db")
            raise RuntimeError(
                f"Redis db {db} holds {size} keys the bench did not write; pick another "
                "database with --redis-db (the bench only ever flushes its own)"
            )
        client.flushdb()
        if not cleanup:
            client.set(OWNER_KEY, "omniq-bench")
        return {"ok": True, "version": version}
    finally:
        client.close()


def prep_postgres(dsn: str, admin_db: str, cleanup: bool) -> dict[str, object]:
    import psycopg
    from psycopg import sql

    parts = urlsplit(dsn)
    bench_db = parts.path.lstrip("/")
    admin_dsn = urlunsplit(parts._replace(path="/" + admin_db))
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (bench_db,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(bench_db)))
    with psycopg.connect(dsn, autocommit=True, connect_timeout=3) as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname <> 'information_schema'"
        ).fetchall()
        for (name,) in schemas:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))
        conn.execute("CREATE SCHEMA public")
    return {"ok": True, "version": version, "database": bench_db}


async def prep_nats(url: str) -> dict[str, object]:
    import nats

    nc = await nats.connect(url, connect_timeout=3, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        await js.account_info()  # fails unless JetStream is enabled
        return {"ok": True, "version": nc.connected_server_version.__str__()}
    finally:
        await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--pg-dsn", required=True)
    parser.add_argument("--pg-admin-db", default="test")
    parser.add_argument("--nats-url", required=True)
    parser.add_argument("--cleanup", action="store_true")
    args = parser.parse_args()
    report: dict[str, object] = {}
    steps = {
        "redis": lambda: prep_redis(args.redis_url, args.cleanup),
        "postgres": lambda: prep_postgres(args.pg_dsn, args.pg_admin_db, args.cleanup),
        "nats": lambda: asyncio.run(prep_nats(args.nats_url)),
    }
    for engine, step in steps.items():
        try:
            report[engine] = step()
        except Exception as exc:  # reported per engine; the rows on it become errors
            report[engine] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
