"""Storage: SQLAlchemy models, sessions, migrations and CSV import."""
