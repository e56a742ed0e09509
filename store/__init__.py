"""Persistence: SQLAlchemy models, Alembic migrations, repository functions, the blob archive."""
