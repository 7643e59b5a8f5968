"""History: repositories over SQLite and PostgreSQL, the recorder, the Redis cache and bridge."""
