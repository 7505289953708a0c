"""Errors of the command service outside the domain: the store's, translated from asyncpg there, and
the use case's refusal of a command id that names another command.

StoreError
├── ConcurrencyConflict   another writer changed the stream first
├── DuplicateCommand      this command_id already has a recorded result
└── MigrationError        the database's migrations do not match the code's
CommandIdTaken            the command id names another command, or another sender's (nothing applied)
"""


class StoreError(Exception):
    pass


class ConcurrencyConflict(StoreError):
    pass


class DuplicateCommand(StoreError):
    pass


class MigrationError(StoreError):
    pass


class CommandIdTaken(Exception):
    """Not recorded (the id's result is the first command's): every repeat is refused again."""
