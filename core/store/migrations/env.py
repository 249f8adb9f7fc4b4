"""Alembic environment: batch mode so ALTERs work on SQLite too."""

from alembic import context
from sqlalchemy import create_engine, text

from core.store.orm import Base

MIGRATE_LOCK_KEY = 0x55434D
config = context.config
url = config.get_main_option("sqlalchemy.url")


def run_migrations_online() -> None:
    connectable = create_engine(url)
    with connectable.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            connection.commit()  # end the implicit transaction so Alembic owns the next one
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Machines that share the database may start together: one migrates, the
                # others wait here, then find the schema at head (the file lock is per machine).
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK_KEY})
            context.run_migrations()
    connectable.dispose()


run_migrations_online()
