"""Many rows into a PostgreSQL table with binary ``COPY``, when none of them is there yet.

``COPY`` skips what a multi-row ``INSERT`` pays per row on both sides: no
statement of thousands of parameters to bind and parse, no speculative
insertion for ``ON CONFLICT``, and PostgreSQL writes the heap in pages rather
than tuple by tuple. It has no ``ON CONFLICT`` though: one row whose key is
already stored (a retried batch, a point sent twice) fails the whole ``COPY``.
So the ``COPY`` runs inside a savepoint, and on a unique violation everything
it wrote is rolled back to that savepoint and :func:`copy_new_rows` answers
False: the caller then inserts the rows its usual way, skipping duplicates.
Either way the table ends as the ``INSERT ... ON CONFLICT DO NOTHING`` would
have left it, and the rest of the transaction is untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg.errors


def copy_new_rows(
    cur: Any, table: str, columns: Sequence[str], types: Sequence[str], rows: Iterable[Sequence[Any]]
) -> bool:
    """Write ``rows`` into ``table`` with one binary ``COPY``; False (and nothing written) if a key existed.

    ``cur`` is a psycopg cursor inside a transaction; ``types`` are the
    PostgreSQL type names of ``columns`` (binary ``COPY`` sends each value in
    exactly that type). Errors other than a unique violation propagate, and
    leave the transaction failed as any failed statement would.
    """
    cur.execute("SAVEPOINT copy_new_rows")
    try:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            write = copy.write_row
            for row in rows:
                write(row)
    except psycopg.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT copy_new_rows")
        return False
    cur.execute("RELEASE SAVEPOINT copy_new_rows")
    return True
