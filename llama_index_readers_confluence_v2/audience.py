"""Who may read a page, as flat metadata, and the checks that honour it (pure).

Confluence's rule (reference: confluence-content-and-permissions.md 6.1): a reader must hold the
space's read permission and pass the read restriction of the page and of every ancestor; a
restriction admits the users and groups it lists; an empty restriction list means "inherit",
not "nobody". Each grant is a `Layer`; `effective` intersects them into an `Audience` whose
users and groups each suffice on their own, so a search can test "is the asker one of these, or
in one of these groups" with one flat OR (every vector store can): no list of layers to evaluate
at query time.

Intersection over groups needs membership: a user named in one layer may pass another through
a group. `lookups` says which users' groups and which groups' members a flattening needs;
`effective` then takes what was learnt (`Membership`). Whatever could not be learnt makes the
audience narrower, never wider.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

# access classes of role-based spaces that every signed-in account holds (others, such as
# product admins, are kept as opaque group tokens that no ordinary user matches)
EVERYONE = frozenset({"authenticated-users", "all-licensed-users"})
# Confluence's id for users who are not signed in: in `allowed_groups` where they may read, so a
# search tests one kind of token (a filter cannot compare a flag in every store)
ANONYMOUS = "anonymous-users"
PERMISSION_KEYS = ("restricted", "allowed_users", "allowed_groups", "anonymous")


@dataclass(frozen=True)
class Layer:
    """One read grant: a space's readers, or a page's (folder's, blog post's) own restriction."""

    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    anonymous: bool = False

    @property
    def empty(self) -> bool:
        """No restriction of its own (the content inherits)."""
        return not (self.users or self.groups or self.anonymous)

    def admits(self, account_id: str, groups: frozenset[str]) -> bool:
        """Whether a signed-in user with these groups passes this grant."""
        return (
            self.anonymous
            or account_id in self.users
            or bool(groups & self.groups)
            or bool(EVERYONE & self.groups)
        )

    def admits_group(self, group_id: str) -> bool:
        """Whether every member of the group passes, by what the grant names."""
        return self.anonymous or group_id in self.groups or bool(EVERYONE & self.groups)


@dataclass(frozen=True)
class Audience:
    """The effective read audience: each user and each group named suffices on its own."""

    restricted: bool
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    anonymous: bool = False

    def metadata(self) -> dict[str, Any]:
        groups = self.groups | {ANONYMOUS} if self.anonymous else self.groups
        return {
            "restricted": self.restricted,
            "allowed_users": ",".join(sorted(self.users)),
            "allowed_groups": ",".join(sorted(groups)),
            "anonymous": self.anonymous,
        }

    def digest(self) -> str:
        """What a sync compares: any change of audience shows."""
        text = repr(sorted(self.metadata().items()))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# marked restricted with nobody named: readable through no search until it is known
UNKNOWN = Audience(restricted=True)


@dataclass(frozen=True)
class Membership:
    """What a run learnt: the groups of some users, the members of some groups."""

    groups_of: Mapping[str, frozenset[str]] = field(default_factory=dict)
    members_of: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Lookups:
    users: frozenset[str]
    groups: frozenset[str]


def restriction_layers(layers: Iterable[Layer]) -> list[Layer]:
    """The layers that narrow (empty ones inherit)."""
    return [layer for layer in layers if not layer.empty]


def lookups(space: Layer, layers: Sequence[Layer], members: Membership) -> Lookups:
    """The groups whose members, then the users whose groups, a flattening needs."""
    narrowing = restriction_layers(layers)
    if not narrowing:
        return Lookups(frozenset(), frozenset())
    named_groups = frozenset().union(*(layer.groups for layer in narrowing)) - EVERYONE
    groups = frozenset(g for g in named_groups if not _whole(g, space, narrowing))
    users = set(space.users).union(*(layer.users for layer in narrowing))
    for group_id in groups:
        users |= members.members_of.get(group_id, frozenset())
    return Lookups(frozenset(users), groups)


def effective(space: Layer, layers: Sequence[Layer], membership: Membership) -> Audience:
    """The space's readers narrowed by every restriction layer."""
    narrowing = restriction_layers(layers)
    if not narrowing:
        return Audience(False, space.users, space.groups, space.anonymous)
    need = lookups(space, narrowing, membership)
    every = [space, *narrowing]
    groups = {g for g in _named_groups(narrowing) if _whole(g, space, narrowing)}
    for group_id in need.groups:
        members = membership.members_of.get(group_id)
        if members is None:
            continue  # its members are unknown: it cannot be counted in
        passing = {m for m in members if _passes(m, every, membership)}
        if passing == members and all(layer.admits_group(group_id) for layer in narrowing):
            groups.add(group_id)  # every member reads it: the group stands for them
    users = {u for u in need.users if _passes(u, every, membership)}
    covered = set().union(*(membership.members_of.get(g, frozenset()) for g in groups))
    named = set(space.users).union(*(layer.users for layer in narrowing))
    users -= covered - named  # a standing group's members need not be listed one by one
    return Audience(True, frozenset(users), frozenset(groups), False)


def _named_groups(layers: Sequence[Layer]) -> frozenset[str]:
    return frozenset().union(*(layer.groups for layer in layers))


def _whole(group_id: str, space: Layer, narrowing: Sequence[Layer]) -> bool:
    """A group every member of which passes each layer, by name alone."""
    return space.admits_group(group_id) and all(layer.admits_group(group_id) for layer in narrowing)


def _passes(account_id: str, layers: Sequence[Layer], membership: Membership) -> bool:
    groups = membership.groups_of.get(account_id, frozenset()) | EVERYONE
    return all(layer.admits(account_id, groups) for layer in layers)


# ---- the asking side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Who asks a search: an account and its groups (ids), or nobody signed in."""

    account_id: str | None = None
    groups: tuple[str, ...] = ()

    @classmethod
    def anonymous_user(cls) -> Viewer:
        return cls()

    @property
    def is_anonymous(self) -> bool:
        return self.account_id is None

    def tokens(self) -> tuple[str | None, tuple[str, ...]]:
        """The account, and every group token that admits it: its groups, the access classes
        every account holds, and anonymous access (a signed-in user reads what anonymous
        users may)."""
        if self.account_id is None:
            return None, (ANONYMOUS,)
        return self.account_id, tuple(sorted({*self.groups, *EVERYONE, ANONYMOUS}))


def may_read(metadata: Mapping[str, Any], viewer: Viewer) -> bool:
    """Whether a document's audience admits the viewer; a document carrying no audience (one
    imported without include_permissions) admits nobody."""
    if "allowed_users" not in metadata:
        return False
    account_id, groups = viewer.tokens()
    users = str(metadata.get("allowed_users") or "").split(",")
    allowed_groups = set(str(metadata.get("allowed_groups") or "").split(","))
    return (account_id is not None and account_id in users) or bool(allowed_groups & set(groups))


def audience_filters(viewer: Viewer) -> Any:
    """LlamaIndex `MetadataFilters` admitting what the viewer may read: one flat OR (no nested
    filters, which the in-memory store refuses) of text matches on the comma-joined ids (account
    and group ids are long random strings, so one never occurs inside another; follow the
    retriever with `AudiencePostprocessor` for the exact rule whatever the store)."""
    from llama_index.core.vector_stores import (
        FilterCondition,
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
    )

    account_id, groups = viewer.tokens()
    filters: list[MetadataFilter | MetadataFilters] = [
        MetadataFilter(key="allowed_groups", value=group, operator=FilterOperator.TEXT_MATCH)
        for group in groups
    ]
    if account_id is not None:
        filters.append(
            MetadataFilter(
                key="allowed_users", value=account_id, operator=FilterOperator.TEXT_MATCH
            )
        )
    return MetadataFilters(filters=filters, condition=FilterCondition.OR)


class AudiencePostprocessor(BaseNodePostprocessor):
    """Drops retrieved nodes the viewer may not read, by the exact rule (`may_read`): put it
    after a retriever filtered with `audience_filters`, whose text matches a store evaluates in
    its own way (substrings, or words, as Qdrant's `MatchText` does)."""

    viewer: Viewer

    @classmethod
    def class_name(cls) -> str:
        return "ConfluenceAudiencePostprocessor"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        return [node for node in nodes if may_read(node.node.metadata, self.viewer)]
