"""Errors of the command service's adapters, translated from asyncpg at the store.

StoreError
├── ConcurrencyConflict   another writer changed the stream first
├── DuplicateCommand      this command_id already has a recorded result
└── MigrationError        the database's migrations do not match the code's
"""


class StoreError(Exception):
    pass


class ConcurrencyConflict(StoreError):
    pass


class DuplicateCommand(StoreError):
    pass


class MigrationError(StoreError):
    pass
