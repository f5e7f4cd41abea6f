"""`/org`: an organisation's staff in the chat. Owners see their staff, invite organisers (or
owners) with a one-time code, and take people off; organisers see their organisation's
challenges; anyone joins with `/org join CODE` (or `/org CODE`)."""

from __future__ import annotations

from conversations.deeplinks import join_payload
from conversations.flow import CommandSpec, Flow, Option, Turn, on
from conversations.flows.actions import (
    BrowsePage,
    OrgChallenges,
    OrgInvite,
    OrgInviteMembers,
    OrgInviteOwner,
    OrgRemove,
    OrgStaff,
)
from conversations.flows.browse import bot_link
from core.services.organisations import Organisation, Role


class OrganisationFlow(Flow):
    """An organisation's staff and challenges, managed by its owners."""

    name = "org"
    commands = (CommandSpec("org", Option.CODE),)
    private_only = True

    async def on_command(self, turn: Turn, command: str, args: str) -> None:
        words = args.split()
        if words and words[0].lower() == "join":
            words = words[1:]
        if len(words) == 1:  # `/org join CODE`, or the code alone (Discord's option)
            await join(turn, words[0])
            turn.end()
            return
        mine = await turn.services.organisations.of_member(turn.member.id)
        if not mine:
            turn.say("org.none")
            turn.end()
            return
        for organisation, role in mine:
            _show(turn, organisation, role)
        turn.end()

    @on(OrgStaff)
    async def staff(self, turn: Turn, button: OrgStaff) -> None:
        organisation_id = button.organisation_id
        for person in await turn.services.organisations.staff(await turn.actor(), organisation_id):
            line = turn.t(
                "org.staff_line",
                person=person.display_name,
                role=turn.t(f"org.role.{person.role.value}"),
            )
            remove = turn.choice(
                turn.t("org.button_remove"), OrgRemove(organisation_id, person.member_id)
            )
            mine = person.member_id == turn.member.id
            turn.send(line, [] if mine else [[remove]])
        turn.end()

    @on(OrgInvite)
    async def invite(self, turn: Turn, button: OrgInvite) -> None:
        await _invite(turn, button.organisation_id, Role.ORGANISER)

    @on(OrgInviteMembers)
    async def invite_members(self, turn: Turn, button: OrgInviteMembers) -> None:
        organisations, organisation_id = turn.services.organisations, button.organisation_id
        code = await organisations.invite(await turn.actor(), organisation_id, Role.MEMBER)
        organisation = await organisations.by_id(organisation_id)
        link = bot_link(turn, join_payload(code), f"/o/{organisation.slug}")
        turn.say("org.member_invite", name=organisation.name, code=code, link=link)
        turn.end()

    @on(OrgInviteOwner)
    async def invite_owner(self, turn: Turn, button: OrgInviteOwner) -> None:
        await _invite(turn, button.organisation_id, Role.OWNER)

    @on(OrgRemove)
    async def remove(self, turn: Turn, button: OrgRemove) -> None:
        await turn.services.organisations.remove(
            await turn.actor(), button.organisation_id, button.member_id
        )
        turn.say("org.removed")
        turn.end()

    @on(OrgChallenges)
    async def challenges(self, turn: Turn, button: OrgChallenges) -> None:
        actor = await turn.actor()
        found = await turn.services.organisations.challenges(actor, button.organisation_id)
        if not found:
            turn.say("org.no_challenges")
        for challenge in found:
            turn.say(
                "org.challenge_line",
                title=challenge.title,
                count=challenge.pledge_count,
                goal=challenge.goal,
            )
        turn.end()


async def _invite(turn: Turn, organisation_id: int, role: Role) -> None:
    """A one-time code that makes whoever types it `role` of the organisation."""
    code = await turn.services.organisations.invite(await turn.actor(), organisation_id, role)
    turn.say("org.invite", code=code, role=turn.t(f"org.role.{role.value}"))
    turn.end()


async def join(turn: Turn, code: str) -> None:
    """Join an organisation with its code: a member is shown its challenges they may now
    see; staff hear their role."""
    organisation, role = await turn.services.organisations.join(turn.member.id, code)
    if role is not Role.MEMBER:
        turn.say("org.joined", name=organisation.name, role=turn.t(f"org.role.{role.value}"))
        return
    browse = turn.choice(turn.t("start.button_browse"), BrowsePage(0))
    turn.send(turn.t("org.joined_member", name=organisation.name), [[browse]])


def _show(turn: Turn, organisation: Organisation, role: Role) -> None:
    """One organisation with what the person's role lets them do."""
    rows = [
        [
            turn.choice(turn.t("org.button_staff"), OrgStaff(organisation.id)),
            turn.choice(turn.t("org.button_challenges"), OrgChallenges(organisation.id)),
        ]
    ]
    rows.append(
        [turn.choice(turn.t("org.button_invite_members"), OrgInviteMembers(organisation.id))]
    )
    if role is Role.OWNER:
        rows.append(
            [
                turn.choice(turn.t("org.button_invite"), OrgInvite(organisation.id)),
                turn.choice(turn.t("org.button_invite_owner"), OrgInviteOwner(organisation.id)),
            ]
        )
    text = turn.t("org.card", name=organisation.name, role=turn.t(f"org.role.{role.value}"))
    turn.send(text, rows)
