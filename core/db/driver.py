"""Statements compiled once into the driver's own SQL, for the hottest writes.

SQLAlchemy builds, compiles and processes a statement at every execution; for a batch of
fifty pledges that Python costs more than the database's own work. A `DriverStatement` is a
SQLAlchemy statement compiled once for a dialect, run with `exec_driver_sql` (so its errors,
events and transaction stay SQLAlchemy's), with only the parameter and result conversions its
types need.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement, ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

Convert = Callable[[Any], Any]


class DriverStatement:
    """`stmt` compiled for `dialect` (a positional paramstyle, as pysqlite's and asyncpg's),
    returning `columns` (their types convert the values read)."""

    def __init__(
        self, stmt: ClauseElement, dialect: Dialect, columns: Sequence[ColumnElement[Any]] = ()
    ) -> None:
        compiled = stmt.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
            raise ValueError(f"{dialect.paramstyle}: a positional paramstyle is needed")
        types = {name: bind.type for bind, name in compiled.bind_names.items()}
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup)
        self._binds = tuple(
            (index, convert)
            for index, name in enumerate(self.names)
            if (convert := _bind(types[name], dialect)) is not None
        )
        self._dialect = dialect
        self._types = tuple(column.type for column in columns)
        self._results: tuple[tuple[int, Convert], ...] | None = None

    def run(
        self, conn: Connection, params: Mapping[str, Any] | Sequence[Any]
    ) -> list[tuple[Any, ...]]:
        """Execute with `params` by name, or as values in the order of `names`; the rows
        returned, converted."""
        if isinstance(params, Mapping):
            values = [params[name] for name in self.names]
        elif len(params) == len(self.names):
            values = list(params)
        else:
            raise ValueError(f"{len(self.names)} values expected, not {len(params)}")
        for index, convert in self._binds:
            values[index] = convert(values[index])
        result = conn.exec_driver_sql(self.sql, tuple(values))
        if not result.returns_rows:
            return []
        if self._results is None:  # the driver's own types are known once it has answered
            self._results = self._conversions(result.cursor.description)
        if not self._results:
            return [tuple(row) for row in result]
        rows = []
        for row in result:
            read = list(row)
            for index, convert in self._results:
                read[index] = convert(read[index])
            rows.append(tuple(read))
        return rows

    def _conversions(self, description: Sequence[Sequence[Any]]) -> tuple[tuple[int, Convert], ...]:
        dialect = self._dialect
        return tuple(
            (index, convert)
            for index, (type_, column) in enumerate(zip(self._types, description, strict=True))
            if (convert := type_.dialect_impl(dialect).result_processor(dialect, column[1]))
            is not None
        )


def _bind(type_: TypeEngine[Any], dialect: Dialect) -> Convert | None:
    return type_.dialect_impl(dialect).bind_processor(dialect)
