"""Domain services: every rule about challenges, pledges and members lives here."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.clock import Clock, SystemClock
from core.db.database import Database
from core.services.broadcasts import BroadcastService
from core.services.challenge_reminders import ChallengeReminderService
from core.services.challenges import ChallengeService
from core.services.checkins import CheckInService
from core.services.conditional import ConditionalPledgeService
from core.services.groups import GroupService
from core.services.linking import LinkService
from core.services.members import MemberService
from core.services.membership import MembershipService
from core.services.organisations import OrganisationService
from core.services.pledges import PledgeService
from core.services.privacy import PrivacyService
from core.services.progress import ProgressService
from core.services.referrals import ReferralService
from core.services.reminders import ReminderService
from core.services.report import ReportService
from core.services.retention import RetentionService
from core.services.sponsors import SponsorService
from core.services.updates import UpdateLog
from core.settings import Settings


@dataclass
class Services:
    """Every service, built once over one database and handed to flows and adapters."""

    db: Database
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)

    def __post_init__(self) -> None:
        self.members = MemberService(
            self.db, self.clock, self.settings.default_timezone, self.settings.default_locale
        )
        self.links = LinkService(self.db, self.clock, self.settings.default_locale)
        self.challenges = ChallengeService(self.db, self.clock, self.settings.map_min_count)
        self.pledges = PledgeService(self.db, self.clock)
        self.checkins = CheckInService(self.db, self.clock)
        self.progress = ProgressService(self.db, self.clock, self.settings.map_min_count)
        self.groups = GroupService(self.db, self.clock)
        self.organisations = OrganisationService(self.db, self.clock, self.settings.default_locale)
        self.membership = MembershipService(self.db, self.clock)
        self.sponsors = SponsorService(self.db, self.clock)
        self.conditional = ConditionalPledgeService(
            self.db,
            self.clock,
            self.pledges,
            self.settings.default_locale,
            joins=(self.groups, self.organisations),
        )
        self.reports = ReportService(
            self.db, self.clock, self.progress, self.sponsors, self.conditional
        )
        self.privacy = PrivacyService(self.db, self.clock, self.settings.default_locale)
        self.updates = UpdateLog(self.db, self.clock)
        self.retention = RetentionService(self.db, self.clock, self.settings)
        self.reminders = ReminderService(self.db, self.clock, self.settings.default_locale)
        self.challenge_reminders = ChallengeReminderService(
            self.db, self.clock, self.settings.default_timezone, self.progress
        )
        self.broadcasts = BroadcastService(self.db, self.clock, self.settings.default_locale)
        self.referrals = ReferralService(self.db, self.clock, self.settings.default_locale)
