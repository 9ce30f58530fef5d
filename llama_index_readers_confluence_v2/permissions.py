"""The read audience of each page, learnt with the fewest requests (see audience.py for the
rule and its flattening).

- A space's readers: v2 `/spaces/{id}/permissions` (ids only; the grants of `read` on `space`),
  a role's holders through `/spaces/{id}/role-assignments`. Once per space per run.
- Restrictions: v1 only, a content's own only (inheritance is not returned, so each ancestor is
  asked too). For a space imported whole, one CQL search of its pages and blog posts with the
  read restrictions expanded (200 a request) covers them all; folders, archived pages and
  anything the search did not carry are asked one by one through
  `/content/{id}/restriction/byOperation/read`. Each node once per run, however many pages sit
  below it.
- Membership, only where a restricted page's layers name different principals: v1
  `/user/memberof` per user named, `/group/{id}/membersByGroupId` per group that cannot stand
  for its members. Once per user or group per run.

Any look-up that fails leaves the audience narrower (a group not counted in), or unknown (an
ancestor or a space whose grants cannot be read): the page is then marked restricted with nobody
named, and the reason is reported. Nothing here widens an audience.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .audience import (
    UNKNOWN,
    Audience,
    Layer,
    Membership,
    Viewer,
    effective,
    lookups,
)
from .client import MAX_IDS, ConfluenceClient
from .documents import PageRecord, SpaceInfo, TreeNode
from .errors import AudienceUnknown, AuthError, NotFoundError, PermissionDeniedError
from .listings import ContainerListings, search_by_page
from .quota import principals_in
from .routes import NODE_KINDS, V1, V2, cql_string

logger = logging.getLogger(__name__)
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
RESTRICTION_PAGE = 100
GROUP_PAGE = 200
SEARCH_PAGE = 200
EXPAND = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
ANONYMOUS_PRINCIPALS = frozenset({"anonymous", "anonymous-users"})
REFUSED = (NotFoundError, PermissionDeniedError, AuthError)


@dataclass(frozen=True)
class Partial:
    """A search hit whose restriction lists were cut short: ask the content itself."""


Restriction = Layer | Partial


def layer_of(restrictions: Any) -> Restriction:
    """A `restrictions` object of v1 (`{user: {results}, group: {results}}`) as a layer."""
    restrictions = restrictions if isinstance(restrictions, dict) else {}
    users = restrictions.get("user") or {}
    groups = restrictions.get("group") or {}
    for listed in (users, groups):
        if (listed.get("_links") or {}).get("next"):
            return Partial()
    total = users.get("totalSize")
    if isinstance(total, int) and total > len(users.get("results") or []):
        return Partial()
    return Layer(
        frozenset(str(u["accountId"]) for u in users.get("results") or [] if u.get("accountId")),
        frozenset(str(g["id"]) for g in groups.get("results") or [] if g.get("id")),
    )


def _hit_layer(raw: dict[str, Any]) -> tuple[str | None, Restriction]:
    read = ((raw.get("restrictions") or {}).get("read") or {}).get("restrictions")
    return str(raw["id"]), layer_of(read) if read is not None else Partial()


async def space_restrictions(
    client: ConfluenceClient, space_key: str
) -> dict[str, list[Restriction]]:
    cql = f"space = {cql_string(space_key)} and type in (page, blogpost)"
    return await search_by_page(client, cql, EXPAND, SEARCH_PAGE, _hit_layer)


@dataclass(frozen=True)
class Readable:
    """A page whose readers count: its space and place (its ancestors, root first)."""

    page_id: str
    space: SpaceInfo
    ancestors: list[TreeNode]
    kind: str
    parent_id: str | None

    @property
    def chain(self) -> list[TreeNode]:
        return [] if self.kind == "blogpost" else self.ancestors

    @property
    def top_parent(self) -> str | None:
        """The parent of the highest ancestor known: None when the chain is whole."""
        if self.kind == "blogpost":
            return None
        return self.chain[0].parent_id if self.chain else self.parent_id


class Permissions:
    """Audiences of the pages of one run; every look-up made once and shared."""

    def __init__(self, client: ConfluenceClient, whole_spaces: Callable[[str], bool]) -> None:
        self.client = client
        self.bulk: ContainerListings[Restriction] = ContainerListings(
            client,
            whole_spaces,
            space_restrictions,
            self._restriction_listing,
            "restrictions",
            absent_means_empty=False,
        )
        self._tasks: dict[Hashable, asyncio.Task[Any]] = {}

    def prefetch(self, space_key: str) -> None:
        self.bulk.prefetch(space_key)

    async def close(self) -> None:
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.bulk.close()

    async def audience(
        self, record: PageRecord, also: Sequence[Readable] = ()
    ) -> tuple[Audience, str | None]:
        """A page's (or blog post's) audience, and why it is unknown when it is; narrowed by
        the audience of each page in `also` (pages whose text it carries: a reader must be
        able to read them all)."""
        own = Readable(
            record.id, record.space, record.ancestors, record.content_type, record.parent_id
        )
        return await self.audience_of(own, also)

    async def audience_of(
        self, page: Readable, also: Sequence[Readable] = ()
    ) -> tuple[Audience, str | None]:
        for item in (page, *also):
            if item.top_parent is not None:
                return UNKNOWN, f"the ancestors of page {item.page_id} are not all known"
        space = page.space
        try:
            space_layer = await self._space_layer_of(space)
            layers = [layer for item in (page, *also) for layer in await self._layers_of(item)]
            for item in also:
                if item.space.id != space.id:  # another space's readers narrow too
                    layers.append(await self._space_layer_of(item.space))
        except AudienceUnknown as exc:
            return UNKNOWN, str(exc)
        membership = await self._membership(space_layer, layers)
        return effective(space_layer, layers, membership), None

    async def _space_layer_of(self, space: SpaceInfo) -> Layer:
        return await self._once(("space", space.id), lambda: self._space_layer(space))

    async def _layers_of(self, item: Readable) -> list[Layer]:
        """The restriction layers of a page and of each of its ancestors."""
        nodes = [(node.id, node.kind) for node in item.chain] + [(item.page_id, item.kind)]
        return list(await asyncio.gather(*(self._layer(i, k, item.space.key) for i, k in nodes)))

    # ---- the space's readers ------------------------------------------------------------------

    async def _space_layer(self, space: SpaceInfo) -> Layer:
        users: set[str] = set()
        groups: set[str] = set()
        roles: set[str] = set()
        anonymous = False
        try:
            path = f"{V2}/spaces/{space.id}/permissions"
            async for grant in self.client.paginate(path, {"limit": MAX_IDS}):
                operation = grant.get("operation") or {}
                if (operation.get("key"), operation.get("targetType")) != ("read", "space"):
                    continue
                principal = grant.get("principal") or {}
                kind, principal_id = principal.get("type"), principal.get("id")
                if not principal_id:
                    continue  # a grant to no one in particular is not taken for everyone
                if kind == "user" and principal_id in ANONYMOUS_PRINCIPALS:
                    anonymous = True
                elif kind == "user":
                    users.add(str(principal_id))
                elif kind == "group":
                    groups.add(str(principal_id))
                elif kind == "role":
                    roles.add(str(principal_id))
        except REFUSED as exc:
            raise AudienceUnknown(
                f"the permissions of space {space.key} could not be read ({exc})"
            ) from None
        if not (users or groups or roles or anonymous):
            raise AudienceUnknown(
                f"the permissions of space {space.key} name no one who may read it (a space "
                "with role-based access whose grants the API does not list?); its pages are "
                "marked restricted with no audience"
            )
        for role in sorted(roles):
            held = await self._role_holders(space, role)
            users |= held.users
            groups |= held.groups
            anonymous = anonymous or held.anonymous
        anonymous = anonymous or await self._anonymous_in_v1(space)
        return Layer(frozenset(users), frozenset(groups), anonymous)

    async def _anonymous_in_v1(self, space: SpaceInfo) -> bool:
        """Whether anonymous users may read the space, where the reference says it shows: a v1
        read permission with `anonymousAccess` (v2 space permissions name users, groups and
        roles only). Refused or not listed (the caller does not administer the space): not
        anonymous, the safe reading."""
        path = f"{V1}/space/{space.key}"
        try:
            found = await self.client.get_json(path, {"expand": "permissions"})
        except REFUSED as exc:
            logger.info("anonymous access to space %s could not be read: %s", space.key, exc)
            return False
        for permission in found.get("permissions") or []:
            operation = permission.get("operation") or {}
            wanted = (operation.get("operation"), operation.get("targetType")) == ("read", "space")
            if wanted and permission.get("anonymousAccess") is True:
                return True
        return False

    async def _role_holders(self, space: SpaceInfo, role_id: str) -> Layer:
        users: set[str] = set()
        groups: set[str] = set()
        anonymous = False
        path = f"{V2}/spaces/{space.id}/role-assignments"
        try:
            async for held in self.client.paginate(path, {"role-id": role_id, "limit": MAX_IDS}):
                principal = held.get("principal") or {}
                kind = principal.get("principalType")
                principal_id = str(principal.get("principalId") or "")
                if not principal_id:
                    continue
                if kind == "USER":
                    users.add(principal_id)
                elif kind == "GROUP":
                    groups.add(principal_id)
                elif kind == "ACCESS_CLASS" and principal_id in ANONYMOUS_PRINCIPALS:
                    anonymous = True
                elif kind == "ACCESS_CLASS":
                    groups.add(principal_id)  # audience.EVERYONE knows who holds which
        except REFUSED as exc:
            raise AudienceUnknown(
                f"the holders of a read role of space {space.key} could not be read ({exc})"
            ) from None
        return Layer(frozenset(users), frozenset(groups), anonymous)

    # ---- restrictions -------------------------------------------------------------------------

    async def _layer(self, node_id: str, kind: str, space_key: str) -> Layer:
        found = await self._once(
            ("layer", node_id), lambda: self._fetch_layer(node_id, kind, space_key)
        )
        if isinstance(found, AudienceUnknown):
            raise found
        return found

    async def _fetch_layer(
        self, node_id: str, kind: str, space_key: str
    ) -> Layer | AudienceUnknown:
        try:
            if kind in NODE_KINDS:  # only pages and blog posts are in the bulk search
                listed = await self._restriction_listing(self.client, node_id, kind)
            else:
                listed = await self.bulk.of_page(node_id, space_key, kind)
            if listed and isinstance(listed[0], Partial):
                listed = await self._restriction_listing(self.client, node_id, kind)
        except REFUSED as exc:
            return AudienceUnknown(
                f"the restrictions of {kind} {node_id} could not be read ({exc})"
            )
        return next((item for item in listed if isinstance(item, Layer)), Layer())

    @staticmethod
    async def _restriction_listing(
        client: ConfluenceClient, node_id: str, kind: str
    ) -> list[Restriction]:
        """One content's own read restriction, every page of it."""
        users: set[str] = set()
        groups: set[str] = set()
        path = f"{V1}/content/{node_id}/restriction/byOperation/read"
        async for data in client.paginate_offset(path, {}, RESTRICTION_PAGE, principals_in):
            layer = layer_of((data or {}).get("restrictions"))
            if isinstance(layer, Layer):
                users |= layer.users
                groups |= layer.groups
        return [Layer(frozenset(users), frozenset(groups))]

    # ---- membership ---------------------------------------------------------------------------

    async def _membership(self, space: Layer, layers: list[Layer]) -> Membership:
        needed = lookups(space, layers, Membership())
        members = await self._each(needed.groups, ("members",), self._group_members)
        known = Membership(members_of=members)
        users = lookups(space, layers, known).users
        groups_of = await self._each(users, ("groups",), self.groups_of)
        return Membership({u: g for u, g in groups_of.items() if g is not None}, members)

    async def _each(
        self,
        keys: Iterable[str],
        tag: tuple[str],
        fetch: Callable[[str], Awaitable[frozenset[str] | None]],
    ) -> dict[str, frozenset[str]]:
        wanted = sorted(keys)

        def make(key: str) -> Callable[[], Awaitable[frozenset[str] | None]]:
            return lambda: fetch(key)

        found = await asyncio.gather(*(self._once((*tag, key), make(key)) for key in wanted))
        return {key: value for key, value in zip(wanted, found, strict=True) if value is not None}

    async def groups_of(self, account_id: str) -> frozenset[str] | None:
        return await user_groups(self.client, account_id)

    async def _group_members(self, group_id: str) -> frozenset[str] | None:
        path = f"{V1}/group/{group_id}/membersByGroupId"
        what = f"the members of group {group_id}"
        return await _ids_listed(self.client, path, {}, "accountId", what)

    async def _once(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        if key not in self._tasks:
            self._tasks[key] = asyncio.ensure_future(make())
        result: T = await asyncio.shield(self._tasks[key])
        return result


async def user_groups(client: ConfluenceClient, account_id: str) -> frozenset[str] | None:
    """A user's group ids; None when they cannot be read (then none are counted)."""
    path = f"{V1}/user/memberof"
    what = f"the groups of user {account_id}"
    return await _ids_listed(client, path, {"accountId": account_id}, "id", what)


async def _ids_listed(
    client: ConfluenceClient, path: str, params: dict[str, str], key: str, what: str
) -> frozenset[str] | None:
    """The `key` of every result of a v1 offset listing; None (logged) when it is refused."""
    try:
        ids = [
            str(item[key])
            async for data in client.paginate_offset(path, params, GROUP_PAGE)
            for item in data.get("results") or []
            if item.get(key)
        ]
    except REFUSED as exc:
        logger.warning("%s could not be read: %s", what, exc)
        return None
    return frozenset(ids)


async def viewer_of(client: ConfluenceClient, account_id: str) -> Viewer:
    """A user as a search asks for them: their account id and their groups, read through the
    API (a user whose groups cannot be read is refused, not searched for with fewer)."""
    groups = await user_groups(client, account_id)
    if groups is None:
        raise PermissionDeniedError(
            f"the groups of user {account_id} could not be read; the credential needs "
            "read:group:confluence and read:user:confluence (or pass the group ids yourself)"
        )
    return Viewer(account_id, tuple(sorted(groups)))
