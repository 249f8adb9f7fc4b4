"""Persistence: the engine and sessions, the ORM tables, Alembic migrations and every query. The only
package that imports SQLAlchemy.
"""
