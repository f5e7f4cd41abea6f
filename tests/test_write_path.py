"""Every write of the application goes through `Database.transaction`: outside core/db no code
opens `db.write()` or reaches for the raw engine."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("core", "conversations", "bots")
STORAGE = ROOT / "core" / "db"
NOT_CONVERTED_YET: set[str] = set()
"""Files allowed to write outside `db.transaction`: none any more."""


def direct_writes(source: str) -> list[int]:
    """Lines that open `<db>.write()` or touch `<db>.engine`, where `<db>` is a name or an
    attribute called `db` (`db`, `self.db`, `services.db`)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ("write", "engine"):
            owner = node.value
            if (isinstance(owner, ast.Name) and owner.id == "db") or (
                isinstance(owner, ast.Attribute) and owner.attr == "db"
            ):
                lines.append(node.lineno)
    return sorted(lines)


def application_files() -> dict[str, str]:
    found = {}
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if STORAGE not in path.parents:
                found[path.relative_to(ROOT).as_posix()] = path.read_text(encoding="utf-8")
    return found


def test_the_finder_sees_every_spelling_of_a_direct_write() -> None:
    source = """
async def f(self, services, db):
    async with self.db.write() as conn:
        pass
    async with services.db.write() as conn:
        pass
    async with db.write() as conn:
        pass
    async with db.engine.begin() as conn:
        pass
    await self.db.transaction(unit)
    async with self.db.read() as conn:
        pass
    stream.write("text")
"""
    assert direct_writes(source) == [3, 5, 7, 9]


def test_application_code_writes_only_through_db_transaction() -> None:
    offenders = {
        name: lines
        for name, source in application_files().items()
        if name not in NOT_CONVERTED_YET and (lines := direct_writes(source))
    }
    assert offenders == {}, "write through `await db.transaction(unit, ...)` instead"


def test_every_file_still_allowed_to_write_directly_does() -> None:
    files = application_files()
    stale = {
        name for name in NOT_CONVERTED_YET if name not in files or not direct_writes(files[name])
    }
    assert stale == set(), "converted: remove these from NOT_CONVERTED_YET"
