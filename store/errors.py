"""The store's one error. ``intake.core.errors`` re-exports it as part of the application's tree."""


class StoreError(Exception):
    """The database or the archive refused a read or a write."""


class SchemaTooNew(StoreError):
    """The database was migrated by a newer version of the code: this one must not touch it."""
