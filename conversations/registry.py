"""The flows the bot runs, in one place: every adapter and the console chat use this list."""

from __future__ import annotations

from conversations.flow import Flow
from conversations.flows.broadcast import BroadcastFlow
from conversations.flows.browse import BrowseFlow
from conversations.flows.conditional import ConditionalPledgeFlow
from conversations.flows.groups import GroupFlow
from conversations.flows.map import MapFlow
from conversations.flows.mine import MineFlow
from conversations.flows.organisations import OrganisationFlow
from conversations.flows.organiser import OrganiserFlow
from conversations.flows.pledge import PledgeFlow
from conversations.flows.reminders import ReminderFlow
from conversations.flows.settings import SettingsFlow
from conversations.flows.share import ShareFlow
from conversations.flows.sponsor import SponsorFlow
from conversations.flows.start import StartFlow


def default_flows() -> list[Flow]:
    """A fresh instance of every product flow.

    To add a flow, import its class from `conversations.flows` and append an instance here;
    the engine refuses two flows with one name or one command.
    """
    return [
        StartFlow(),
        BrowseFlow(),
        PledgeFlow(),
        MineFlow(),
        SettingsFlow(),
        OrganiserFlow(),
        BroadcastFlow(),
        GroupFlow(),
        MapFlow(),
        ReminderFlow(),
        ShareFlow(),
        SponsorFlow(),
        OrganisationFlow(),
        ConditionalPledgeFlow(),
    ]
