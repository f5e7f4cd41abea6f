"""Column types: timestamps stored on SQLite exactly as SQLAlchemy's own DATETIME writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

from core.db.types import UTCDateTime

DIALECT = SQLiteDialect_pysqlite()


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 5, 12, 30, 1, 123456, tzinfo=UTC),
        datetime(2026, 12, 5, 12, 30, 1, tzinfo=UTC),  # no microseconds: still six digits
        datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=2))),  # another zone
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a year of three digits
    ],
)
def test_a_timestamp_is_stored_as_sqlalchemy_stores_it_in_utc(value: datetime) -> None:
    ours = UTCDateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
    theirs = DateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
    assert ours is not None and theirs is not None
    expected = theirs(value.astimezone(UTC).replace(tzinfo=None))
    assert ours(value) == expected
    result = UTCDateTime().dialect_impl(DIALECT).result_processor(DIALECT, None)
    assert result is not None and result(expected) == value


def test_a_naive_timestamp_is_refused() -> None:
    ours = UTCDateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
    assert ours is not None
    assert ours(None) is None
    with pytest.raises(ValueError, match="naive"):
        ours(datetime(2026, 12, 5, 12, 30))
