"""Members: created on first contact, found again, linked across platforms."""

from __future__ import annotations

from core.identity import AccountRef
from core.services import Services


async def test_ensure_creates_once(services: Services) -> None:
    account = AccountRef.parse("telegram:42")
    first = await services.members.ensure(account, "Alice")
    again = await services.members.ensure(account, "Alice B")
    assert first.id == again.id
    assert first.timezone == "Europe/Paris"
    assert await services.members.accounts_of(first.id) == [account]


def test_every_refusal_of_a_reminder_setting_is_translated() -> None:
    from core.i18n import SUPPORTED_LOCALES, Translator
    from core.services.members import _BOUNDS

    for _, _, key in _BOUNDS.values():
        for locale in SUPPORTED_LOCALES:
            assert Translator(locale)(key) != key
