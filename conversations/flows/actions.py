"""The buttons of every flow, typed: one class per action, named after its flow. They live
together so that a flow offering another flow's button (the card's Pledge, a pledge's Map)
refers to its type without importing that flow. The wire format (`flow:action:arg...`) is
the one of the buttons sent before they were typed, which keep working."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from conversations.buttons import Button, MaxLength
from core.models import AreaKind, ConditionScope, Frequency, ReminderPreference, Visibility

Locale = Annotated[str, MaxLength(5)]
PlaceKey = Annotated[str, MaxLength(20)]
"""A place of the gazetteer, its ":" written "." ("fr.69123")."""
LinkCode = Annotated[str, MaxLength(16)]
FieldName = Annotated[str, MaxLength(12)]


class Then(StrEnum):
    """What follows a language choice."""

    WELCOME = "w"
    """The welcome (first /start)."""


class PictureSize(StrEnum):
    """The share picture's format."""

    SQUARE = "s"
    WIDE = "w"


class Snooze(StrEnum):
    """How long a reminder is put off."""

    HOUR = "1h"
    TOMORROW = "tmr"


# --- start --------------------------------------------------------------------------------


class StartHelp(Button, flow="start", action="help"):
    pass


class StartLanguage(Button, flow="start", action="lang"):
    locale: Locale
    then: Then | None = None


# --- browse -------------------------------------------------------------------------------


class BrowsePage(Button, flow="browse", action="page"):
    page: int


class BrowseOpen(Button, flow="browse", action="open"):
    challenge_id: int
    page: int


class BrowseShare(Button, flow="browse", action="share"):
    challenge_id: int


# --- pledge -------------------------------------------------------------------------------


class PledgeGo(Button, flow="pledge", action="go"):
    """Start pledging, crediting who shared the link (when known)."""

    challenge_id: int
    referrer_id: int | None = None


class PledgeYes(Button, flow="pledge", action="yes"):
    challenge_id: int


class PledgeNo(Button, flow="pledge", action="no"):
    challenge_id: int


class PledgeGivePlace(Button, flow="pledge", action="loc_give"):
    challenge_id: int


class PledgeKeepPlace(Button, flow="pledge", action="loc_keep"):
    challenge_id: int


class PledgeSkipPlace(Button, flow="pledge", action="loc_skip"):
    challenge_id: int


class PledgePlace(Button, flow="pledge", action="place"):
    """One of several places of the typed name."""

    challenge_id: int
    place: PlaceKey


class PledgeRemind(Button, flow="pledge", action="remind"):
    challenge_id: int
    preference: ReminderPreference


# --- mine ---------------------------------------------------------------------------------


class MineList(Button, flow="mine", action="list"):
    pass


class MineCheckIn(Button, flow="mine", action="checkin"):
    challenge_id: int


class MineWithdraw(Button, flow="mine", action="withdraw"):
    challenge_id: int


class MineConfirmWithdraw(Button, flow="mine", action="confirm"):
    challenge_id: int


class MineKeep(Button, flow="mine", action="keep"):
    challenge_id: int


class MineReminder(Button, flow="mine", action="remind"):
    """Open one pledge's reminder choices."""

    challenge_id: int


class MineSetReminder(Button, flow="mine", action="remind_set"):
    """Set one pledge's reminder rhythm (weekly: on `weekday`, else the member's day)."""

    challenge_id: int
    preference: ReminderPreference
    weekday: int | None = None


# --- share, map, groups -------------------------------------------------------------------


class SharePicture(Button, flow="share", action="picture"):
    challenge_id: int
    size: PictureSize | None = None


class MapShow(Button, flow="map", action="show"):
    challenge_id: int


class GroupFollow(Button, flow="group", action="follow"):
    challenge_id: int


class GroupUnfollow(Button, flow="group", action="unfollow"):
    challenge_id: int


class GroupLanguage(Button, flow="group", action="lang"):
    locale: Locale


# --- reminders (sent by the worker: unsolicited) ------------------------------------------


class RemindDone(Button, flow="remind", action="done", unsolicited=True):
    challenge_id: int


class RemindNotYet(Button, flow="remind", action="notyet", unsolicited=True):
    challenge_id: int


class RemindSnooze(Button, flow="remind", action="snooze", unsolicited=True):
    challenge_id: int
    span: Snooze


class RemindPause(Button, flow="remind", action="pause", unsolicited=True):
    challenge_id: int


class RemindResume(Button, flow="remind", action="resume", unsolicited=True):
    challenge_id: int


# --- sponsors (told by the worker: unsolicited) -------------------------------------------


class SponsorConfirm(Button, flow="sponsor", action="confirm", unsolicited=True):
    tier_id: int


class SponsorProof(Button, flow="sponsor", action="proof", unsolicited=True):
    tier_id: int


# --- organisations and conditional pledges ------------------------------------------------


class OrgStaff(Button, flow="org", action="staff"):
    organisation_id: int


class OrgChallenges(Button, flow="org", action="challenges"):
    organisation_id: int


class OrgInvite(Button, flow="org", action="invite"):
    organisation_id: int


class OrgInviteMembers(Button, flow="org", action="invite_members"):
    organisation_id: int


class OrgInviteOwner(Button, flow="org", action="invite_owner"):
    organisation_id: int


class OrgRemove(Button, flow="org", action="remove"):
    organisation_id: int
    member_id: int


class CondScope(Button, flow="cond", action="scope"):
    """Whose pledges count: everyone's, the member's commune's, or those of one group or
    organisation (`key`, given for those two only)."""

    scope: ConditionScope
    threshold: int
    key: int | None = None


# --- settings -----------------------------------------------------------------------------


class SettingsMenu(Button, flow="settings", action="menu"):
    pass


class SettingsLanguages(Button, flow="settings", action="lang"):
    pass


class SettingsSetLanguage(Button, flow="settings", action="lang_set"):
    locale: Locale


class SettingsReminders(Button, flow="settings", action="rem"):
    pass


class SettingsSetReminder(Button, flow="settings", action="rem_set"):
    preference: ReminderPreference


class SettingsHour(Button, flow="settings", action="hour"):
    hour: int


class SettingsAskHour(Button, flow="settings", action="hour_ask"):
    pass


class SettingsWeekday(Button, flow="settings", action="day"):
    weekday: int


class SettingsAskQuiet(Button, flow="settings", action="quiet_ask"):
    pass


class SettingsAskTimezone(Button, flow="settings", action="tz_ask"):
    pass


class SettingsPlace(Button, flow="settings", action="loc"):
    pass


class SettingsChangePlace(Button, flow="settings", action="loc_change"):
    pass


class SettingsPickPlace(Button, flow="settings", action="loc_pick"):
    place: PlaceKey


class SettingsRemovePlace(Button, flow="settings", action="loc_del"):
    pass


class SettingsNews(Button, flow="settings", action="news"):
    opt_out: bool


class SettingsLink(Button, flow="settings", action="link"):
    pass


class SettingsLinkYes(Button, flow="settings", action="link_ok", unsolicited=True):
    code: LinkCode


class SettingsLinkNo(Button, flow="settings", action="link_no", unsolicited=True):
    code: LinkCode


class SettingsData(Button, flow="settings", action="data"):
    pass


class SettingsForget(Button, flow="settings", action="forget"):
    pass


class SettingsForgetYes(Button, flow="settings", action="forget_yes"):
    member_id: int


class SettingsForgetNo(Button, flow="settings", action="forget_no"):
    pass


class SettingsDone(Button, flow="settings", action="done"):
    pass


class SettingsRestart(Button, flow="settings", action="restart", unsolicited=True):
    """The Undo under a "STOP" confirmation."""


# --- organisers: /new ---------------------------------------------------------------------


class NewOrganisation(Button, flow="orga", action="org"):
    """The organisation running the new challenge (0: the deployment itself)."""

    organisation_id: int


class NewNoArea(Button, flow="orga", action="noarea"):
    pass


class NewAreaKind(Button, flow="orga", action="kind"):
    kind: AreaKind


class NewFrequency(Button, flow="orga", action="freq"):
    frequency: Frequency


class NewTiersDone(Button, flow="orga", action="tiersdone"):
    pass


class NewNoImpact(Button, flow="orga", action="noimpact"):
    pass


class NewVisibility(Button, flow="orga", action="vis"):
    """Who may see an organisation's new challenge (its staff are asked, nobody else)."""

    visibility: Visibility


# --- organisers: /manage ------------------------------------------------------------------


class ManageList(Button, flow="orga", action="list"):
    offset: int


class ManageOpen(Button, flow="orga", action="open"):
    challenge_id: int


class ManagePublish(Button, flow="orga", action="publish"):
    challenge_id: int


class ManageDiscard(Button, flow="orga", action="discard"):
    challenge_id: int


class ManageEdit(Button, flow="orga", action="edit"):
    challenge_id: int


class ManageField(Button, flow="orga", action="field"):
    challenge_id: int
    field: FieldName


class ManageTranslate(Button, flow="orga", action="lang"):
    challenge_id: int
    locale: Locale


class ManageAddTier(Button, flow="orga", action="tier"):
    challenge_id: int


class ManageKept(Button, flow="orga", action="kept"):
    challenge_id: int


class ManageKeep(Button, flow="orga", action="keep"):
    challenge_id: int
    tier_id: int


class ManageClose(Button, flow="orga", action="close"):
    challenge_id: int


class ManageShut(Button, flow="orga", action="shut"):
    challenge_id: int


class ManageMakePrivate(Button, flow="orga", action="private"):
    challenge_id: int


class ManageMakePublic(Button, flow="orga", action="public"):
    challenge_id: int


class ManageSetVisibility(Button, flow="orga", action="setvis"):
    """Confirmed: the challenge becomes open to everyone, or to its members only."""

    challenge_id: int
    visibility: Visibility


class ManageReport(Button, flow="orga", action="report"):
    """The PDF report, sent as a document."""

    challenge_id: int


class ManageStats(Button, flow="orga", action="stats"):
    challenge_id: int


# --- organisers: /broadcast ---------------------------------------------------------------


class BroadcastPick(Button, flow="bcast", action="pick"):
    """The audience picker: audience bits, and the challenge picked (0: none)."""

    bits: int
    challenge_id: int


class BroadcastNext(Button, flow="bcast", action="next"):
    bits: int
    challenge_id: int


class BroadcastNow(Button, flow="bcast", action="now"):
    broadcast_id: int


class BroadcastSchedule(Button, flow="bcast", action="sched"):
    broadcast_id: int


class BroadcastEdit(Button, flow="bcast", action="edit"):
    broadcast_id: int


class BroadcastDrop(Button, flow="bcast", action="drop"):
    broadcast_id: int


class BroadcastRefresh(Button, flow="bcast", action="prog"):
    broadcast_id: int


class BroadcastStop(Button, flow="bcast", action="stop"):
    broadcast_id: int


class BroadcastCancel(Button, flow="bcast", action="kill"):
    broadcast_id: int
