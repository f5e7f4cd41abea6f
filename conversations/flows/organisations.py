"""`/org`: an organisation's staff in the chat. Owners see their staff, invite organisers (or
owners) with a one-time code, and take people off; organisers see their organisation's
challenges; anyone joins with `/org join CODE` (or `/org CODE`)."""

from __future__ import annotations

from conversations.deeplinks import join_payload
from conversations.flow import CommandSpec, Flow, Option, Turn
from conversations.flows.browse import arg_id
from core.errors import KoomError
from core.services.organisations import Organisation, Role

FLOW = "org"


class OrganisationFlow(Flow):
    """An organisation's staff and challenges, managed by its owners."""

    name = FLOW
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

    async def on_choice(self, turn: Turn, action: str, args: list[str]) -> None:
        organisations = turn.services.organisations
        actor = await turn.actor()
        organisation_id = arg_id(args)
        match action:
            case "staff":
                for person in await organisations.staff(actor, organisation_id):
                    line = turn.t(
                        "org.staff_line",
                        person=person.display_name,
                        role=turn.t(f"org.role.{person.role.value}"),
                    )
                    remove = turn.choice(
                        turn.t("org.button_remove"), "remove", organisation_id, person.member_id
                    )
                    mine = person.member_id == turn.member.id
                    turn.send(line, [] if mine else [[remove]])
            case "invite" | "invite_owner":
                role = Role.OWNER if action == "invite_owner" else Role.ORGANISER
                code = await organisations.invite(actor, organisation_id, role)
                turn.say("org.invite", code=code, role=turn.t(f"org.role.{role.value}"))
            case "invite_members":
                code = await organisations.invite(actor, organisation_id, Role.MEMBER)
                organisation = await organisations.by_id(organisation_id)
                link = turn.capabilities.share_link_template.format(payload=join_payload(code))
                turn.say("org.member_invite", name=organisation.name, code=code, link=link)
            case "remove":
                await organisations.remove(actor, organisation_id, arg_id(args, 1))
                turn.say("org.removed")
            case "challenges":
                found = await organisations.challenges(actor, organisation_id)
                if not found:
                    turn.say("org.no_challenges")
                for challenge in found:
                    turn.say(
                        "org.challenge_line",
                        title=challenge.title,
                        count=challenge.pledge_count,
                        goal=challenge.goal,
                    )
            case _:
                raise KoomError("engine.stale_choice")
        turn.end()


async def join(turn: Turn, code: str) -> None:
    """Join an organisation with its code: a member is shown its challenges they may now
    see; staff hear their role."""
    organisation, role = await turn.services.organisations.join(turn.member.id, code)
    if role is not Role.MEMBER:
        turn.say("org.joined", name=organisation.name, role=turn.t(f"org.role.{role.value}"))
        return
    browse = turn.choice(turn.t("start.button_browse"), "page", 0, flow="browse")
    turn.send(turn.t("org.joined_member", name=organisation.name), [[browse]])


def _show(turn: Turn, organisation: Organisation, role: Role) -> None:
    """One organisation with what the person's role lets them do."""
    rows = [
        [
            turn.choice(turn.t("org.button_staff"), "staff", organisation.id),
            turn.choice(turn.t("org.button_challenges"), "challenges", organisation.id),
        ]
    ]
    rows.append(
        [turn.choice(turn.t("org.button_invite_members"), "invite_members", organisation.id)]
    )
    if role is Role.OWNER:
        rows.append(
            [
                turn.choice(turn.t("org.button_invite"), "invite", organisation.id),
                turn.choice(turn.t("org.button_invite_owner"), "invite_owner", organisation.id),
            ]
        )
    text = turn.t("org.card", name=organisation.name, role=turn.t(f"org.role.{role.value}"))
    turn.send(text, rows)
