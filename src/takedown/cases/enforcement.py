"""Enforcement: what a confirmed violation does on the platform. Pure: the takedown set is
found by the services; here it becomes actions, by the account policy of the category.

The takedown set of a violation is the reported content, every registered item in its repost
family (the root it reposts and everything reposting it, transitively), and every registered
item whose media matches the confirmed media, with their families. Its *uploaders* are the
accounts that uploaded a copy (an item with no parent: the original or a matching re-upload);
its *reposters* the accounts that only reposted one.

Every action has a stable id (``action_id``): the same case, type and target always give the
same id, so planning twice, or delivering a batch again, never makes a second action.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from takedown.cases.model import Category


@dataclass(frozen=True)
class ConfirmedMediaBanked:
    """A confirmed violation's media joined the installation's confirmed bank: every
    process's indexes must take it (``Matcher``)."""

    event_type: ClassVar[str] = "enforcement.media_banked"
    bank: str
    entries: int


@dataclass(frozen=True)
class ActionsPlanned:
    """Actions for the platform were written: a deliverer wakes to send them."""

    event_type: ClassVar[str] = "enforcement.actions_planned"
    case_id: int
    actions: int


@dataclass(frozen=True)
class AccountsSuspended:
    """Accounts were suspended for a violation: their other registered content is queued for
    review, with the priority their removals raise (``services.enforcement``)."""

    event_type: ClassVar[str] = "enforcement.accounts_suspended"
    case_id: int
    category: str
    accounts: list[str]


@dataclass(frozen=True)
class ContentRemoved:
    """The platform took content of a case down (its remove actions were delivered): the
    reporters who gave an address are told."""

    event_type: ClassVar[str] = "enforcement.content_removed"
    case_id: int
    content_ids: list[str]


@dataclass(frozen=True)
class EvidenceWanted:
    """A case's media (and, once confirmed, its metadata) is to be preserved: it became P0,
    or was confirmed (``services.evidence``)."""

    event_type: ClassVar[str] = "evidence.wanted"
    case_id: int
    confirmed: bool


class ActionType(StrEnum):
    remove = "remove"  # take the content down
    restrict = "restrict"  # interim: not shown to others, not recommended, no ads
    restore = "restore"  # undo a remove or a restrict
    suspend_account = "suspend_account"
    strike = "strike"  # a mark against an account that reposted


@dataclass(frozen=True, slots=True)
class SetItem:
    content_id: str
    account_id: str | None
    parent_content_id: str | None
    # For its statement of reasons (``cases.reasons``): what it is, and since when it was up.
    media_kind: str | None = None
    first_seen: datetime | None = None


@dataclass(frozen=True)
class TakedownSet:
    """The items a violation reaches, each once."""

    items: tuple[SetItem, ...]

    @property
    def content_ids(self) -> list[str]:
        return [i.content_id for i in self.items]

    @property
    def uploaders(self) -> list[str]:
        """Accounts that uploaded a copy (an item with no parent), each once, in order."""
        return list(
            dict.fromkeys(
                i.account_id for i in self.items if i.account_id and i.parent_content_id is None
            )
        )

    @property
    def reposters(self) -> list[str]:
        """Accounts that only reposted a copy (never uploaded one), each once."""
        uploaders = set(self.uploaders)
        return list(
            dict.fromkeys(
                i.account_id
                for i in self.items
                if i.account_id
                and i.parent_content_id is not None
                and i.account_id not in uploaders
            )
        )


@dataclass(frozen=True)
class AccountPolicy:
    """What a confirmed violation of one category does to accounts."""

    suspend_uploaders: bool = False
    strike_uploaders: bool = False
    strike_reposters: bool = False


ACCOUNT_POLICIES: dict[Category, AccountPolicy] = {
    # Every account that uploaded a copy is suspended; those that only reposted get a strike.
    Category.csam: AccountPolicy(suspend_uploaders=True, strike_reposters=True),
    Category.ncii: AccountPolicy(suspend_uploaders=True, strike_reposters=True),
    Category.other_illegal: AccountPolicy(strike_uploaders=True),
    Category.policy: AccountPolicy(strike_uploaders=True),
}


@dataclass(frozen=True, slots=True)
class PlannedAction:
    action_id: str
    type: ActionType
    content_id: str | None = None
    account_id: str | None = None


_NAMESPACE = uuid.UUID("6b1f0c1e-6f43-4f43-9a53-7a6b2d0f1a19")


def action_id(case_id: int, type_: ActionType, target: str) -> str:
    """The stable id of the ``type_`` action on ``target`` for case ``case_id``."""
    return str(uuid.uuid5(_NAMESPACE, f"{case_id}\x00{type_}\x00{target}"))


@dataclass(frozen=True)
class Plan:
    actions: list[PlannedAction] = field(default_factory=list)

    def of_type(self, type_: ActionType) -> list[PlannedAction]:
        return [a for a in self.actions if a.type is type_]


def plan_violation(case_id: int, found: TakedownSet, policy: AccountPolicy) -> Plan:
    """Remove every item of the set; deal with the accounts by ``policy``."""
    actions = [
        PlannedAction(action_id(case_id, ActionType.remove, c), ActionType.remove, content_id=c)
        for c in found.content_ids
    ]
    for account in found.uploaders:
        if policy.suspend_uploaders:
            kind = ActionType.suspend_account
        elif policy.strike_uploaders:
            kind = ActionType.strike
        else:
            continue
        actions.append(PlannedAction(action_id(case_id, kind, account), kind, account_id=account))
    if policy.strike_reposters:
        actions += [
            PlannedAction(
                action_id(case_id, ActionType.strike, account),
                ActionType.strike,
                account_id=account,
            )
            for account in found.reposters
        ]
    return Plan(actions)


def plan_restrict(case_id: int, content_ids: list[str]) -> Plan:
    """Interim: restrict content of an urgent case that is still spreading, until a decision."""
    kind = ActionType.restrict
    return Plan(
        [PlannedAction(action_id(case_id, kind, c), kind, content_id=c) for c in content_ids]
    )


def plan_restore(case_id: int, removed: list[str]) -> Plan:
    """Undo the removals and restrictions of a case: a violation overturned on appeal, or
    an interim restriction followed by "no violation"."""
    return Plan(
        [
            PlannedAction(
                action_id(case_id, ActionType.restore, c), ActionType.restore, content_id=c
            )
            for c in removed
        ]
    )
