"""The exit codes of ``cqrs``, in one table: what a script may tell apart without reading the output.

if main(["customer", "get", customer_id]) == EXIT_NOT_FOUND: ...
"""

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # argparse's own code for a command line it cannot parse
EXIT_NOT_FOUND = 3
EXIT_UNAVAILABLE = 4
EXIT_REJECTED = 5
EXIT_CONFIGURATION = 6

TABLE: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "done"),
    (
        EXIT_ERROR,
        "unexpected error; or not all good: status not ready, verify found differences, a rebuild "
        "failed, a dead letter not replayed",
    ),
    (EXIT_USAGE, "usage error: the command line is wrong"),
    (EXIT_NOT_FOUND, "not found"),
    (EXIT_UNAVAILABLE, "timeout, broker unavailable, or a view that did not catch up in time"),
    (EXIT_REJECTED, "rejected: a domain rule, invalid arguments, forbidden, access refused"),
    (EXIT_CONFIGURATION, "configuration error: a missing or invalid setting, such as CQRS_RABBITMQ_URL"),
)


def described() -> str:
    """The table as ``cqrs --help`` ends with it."""
    return "exit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in TABLE)
