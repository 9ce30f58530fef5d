"""The emulated site's data: spaces, pages, folders, attachments, labels, accounts.

Indexes are kept small (ids and titles); page bodies and attachment bytes are produced on demand
by the generator unless a test set them, so a 50,000-page site costs tens of megabytes.
"""

from __future__ import annotations

import bisect
import secrets
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

EPOCH = "2026-01-05T09:00:00.000Z"


def timestamp(step: int) -> str:
    """A deterministic, increasing ISO timestamp (one minute per step from 2026-01-05)."""
    minutes = 9 * 60 + step
    day, minute = divmod(minutes, 24 * 60)
    month_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    month, day = 0, day + 4
    while day >= month_days[month % 12]:
        day -= month_days[month % 12]
        month += 1
    year = 2026 + month // 12
    return f"{year}-{month % 12 + 1:02d}-{day + 1:02d}T{minute // 60:02d}:{minute % 60:02d}:00.000Z"


@dataclass
class Account:
    account_id: str
    email: str
    display_name: str
    api_token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    scoped_token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)

    def __repr__(self) -> str:
        return f"Account({self.email!r}, {self.account_id!r})"


@dataclass(slots=True)
class Space:
    id: str
    key: str
    name: str
    type: str
    status: str
    author_id: str
    created_at: str
    homepage_id: str | None = None
    description: str = ""


@dataclass(slots=True)
class Group:
    id: str
    name: str
    members: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Readers:
    """Who may read a space (its `read` space permission): users, groups, and anonymous users."""

    users: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    anonymous: bool = False


ALL_USERS = "confluence-users"  # the group every account joins: spaces grant it read by default
ROLE_MODES = ("PRE_ROLES", "ROLES_TRANSITION", "ROLES")


@dataclass(slots=True)
class Content:
    """A page, blog post, or a node of the content tree that is not a page: a folder,
    whiteboard, database or embed (a Smart Link placed in the tree). Tree nodes share the page
    id space and tree; an embed points at `embed_url`."""

    id: str
    kind: str
    title: str
    space_id: str
    parent_id: str | None
    parent_type: str | None
    position: int
    status: str
    version: int
    created_at: str
    modified_at: str
    author_id: str
    body: str | None = None
    labels: tuple[str, ...] = ()
    restricted_to: frozenset[str] | None = None  # the own read restriction's users
    restricted_groups: frozenset[str] | None = None  # ... and its groups (ids)
    embed_url: str = ""  # an embed's target (a Smart Link)


@dataclass(slots=True)
class Attachment:
    id: str
    page_id: str
    title: str
    media_type: str
    kind: str
    file_id: str
    created_at: str
    author_id: str
    version: int = 1
    file_size: int = 0
    data: bytes | None = None
    status: str = "current"
    comment: str = ""
    modified_at: str = ""  # its latest version's time (created_at until a new version)

    @property
    def last_modified(self) -> str:
        return self.modified_at or self.created_at


@dataclass(slots=True)
class Comment:
    """A footer or inline comment on a page or blog post; a reply has a parent comment."""

    id: str
    container_id: str
    body: str
    author_id: str
    created_at: str
    modified_at: str
    location: str = "footer"  # or "inline"
    parent_id: str | None = None
    version: int = 1
    resolution: str = "open"  # inline: open, resolved, dangling, reopened
    selection: str = ""  # inline: the highlighted text
    marker_ref: str = ""


class Site:
    """An in-memory Confluence site with the indexes the API routes need."""

    def __init__(self, cloud_id: str = "5c7b3f2e-0c1d-4d2a-9e4b-6f0a1b2c3d4e") -> None:
        self.cloud_id = cloud_id
        self.accounts: dict[str, Account] = {}
        self.spaces: dict[str, Space] = {}
        self.space_ids_by_key: dict[str, str] = {}
        self.contents: dict[str, Content] = {}
        self.children: dict[str, list[str]] = {}
        self.space_pages: dict[str, list[int]] = {}
        self.space_blogposts: dict[str, list[int]] = {}  # not in the page tree: no parents
        self.attachments: dict[str, Attachment] = {}
        self.page_attachments: dict[str, list[str]] = {}
        self.label_ids: dict[str, str] = {}
        self.comments: dict[str, Comment] = {}
        self.groups: dict[str, Group] = {}
        self.space_readers: dict[str, Readers] = {}
        self.all_users = self.add_group(ALL_USERS)
        # role-based access (reference 6.4): in ROLES mode a space's read grant is a role, held by
        # users, groups and access classes; whether the permissions route lists the role's grant
        # on a roles-only site is unverified, so a test can hide it
        self.role_mode = "PRE_ROLES"
        self.roles_listed_in_permissions = True
        # how v2 `/spaces/{id}/permissions` shows anonymous access is unverified (its principals
        # are user, group or role; the schema has no anonymous flag): by default it does not show
        # it at all, and v1 `space/{key}?expand=permissions` does (`anonymousAccess`); a test can
        # switch on the other reading, a grant to the user "anonymous"
        self.anonymous_in_v2_permissions = False
        # whether moving to the trash (and restoring from it) dates the item, so that a listing
        # sorted by `-modified-date` shows it first, is unverified (the version does not change):
        # by default it does; a test can switch on the other reading, where it keeps its date
        self.trash_dates_items = True
        self.body_factory: Callable[[Content], str] = lambda content: "<p></p>"
        self.bytes_factory: Callable[[Attachment], bytes] = lambda attachment: b""
        self._next_id = 65536
        self._clock = 0
        self.minutes_per_edit = 1  # how far the clock moves at each edit

    # ---- ids and time -------------------------------------------------------------------------

    def new_id(self) -> str:
        self._next_id += 1 + self._next_id % 7
        return str(self._next_id)

    def tick(self) -> str:
        self._clock += self.minutes_per_edit
        return timestamp(self._clock)

    def let_time_pass(self, minutes: int) -> None:
        """Move the clock of edits on (each edit takes `minutes_per_edit`): later edits are that much
        later, as on a site where people stop writing for a while."""
        self._clock += max(0, minutes)

    # ---- building -----------------------------------------------------------------------------

    def add_group(self, name: str, *account_ids: str) -> Group:
        """A group (its id a UUID, as in Cloud) with these members."""
        group = Group(str(uuid.UUID(int=len(self.groups) + 1)), name, set(account_ids))
        self.groups[group.id] = group
        return group

    def groups_of(self, account_id: str | None) -> set[str]:
        return {g.id for g in self.groups.values() if account_id and account_id in g.members}

    def restrict(
        self, content_id: str, users: Iterable[str] = (), groups: Iterable[Group] = ()
    ) -> None:
        """Set a page's (or folder's, or blog post's) own read restriction: only these users and
        groups (and, as restrictions are inherited, the same below it). Nothing given: none."""
        content = self.contents[content_id]
        users, group_ids = frozenset(users), frozenset(g.id for g in groups)
        restricted = bool(users or group_ids)
        content.restricted_to = users if restricted else None
        content.restricted_groups = group_ids if restricted else None

    def grant_space(
        self,
        space: Space,
        users: Iterable[str] = (),
        groups: Iterable[Group] = (),
        anonymous: bool = False,
    ) -> None:
        """Who may read the space, replacing the default (every account, by its group)."""
        self.space_readers[space.id] = Readers(set(users), {g.id for g in groups}, anonymous)

    def add_account(self, email: str, display_name: str, account_id: str) -> Account:
        account = Account(account_id=account_id, email=email, display_name=display_name)
        self.accounts[account_id] = account
        self.all_users.members.add(account_id)
        return account

    def add_space(self, key: str, name: str, type_: str = "global", author_id: str = "") -> Space:
        space = Space(self.new_id(), key, name, type_, "current", author_id, self.tick())
        self.spaces[space.id] = space
        self.space_ids_by_key[key] = space.id
        self.space_pages[space.id] = []
        self.space_blogposts[space.id] = []
        self.space_readers[space.id] = Readers(groups={self.all_users.id})
        return space

    def add_content(
        self,
        space: Space,
        title: str,
        parent_id: str | None = None,
        kind: str = "page",
        *,
        content_id: str | None = None,
        status: str = "current",
        body: str | None = None,
        labels: tuple[str, ...] = (),
        author_id: str = "",
        embed_url: str = "",
    ) -> Content:
        content_id = content_id or self.new_id()
        parent = self.contents.get(parent_id) if parent_id else None
        if kind == "blogpost":
            parent = None
            siblings: list[str] = []  # blog posts have no place in the tree
        else:
            siblings = self.children.setdefault(parent_id or f"space:{space.id}", [])
        created = self.tick()
        content = Content(
            id=content_id,
            kind=kind,
            title=title,
            space_id=space.id,
            parent_id=parent.id if parent else None,
            parent_type=parent.kind if parent else None,
            position=len(siblings),
            status=status,
            version=1,
            created_at=created,
            modified_at=created,
            author_id=author_id or space.author_id,
            body=body,
            labels=labels,
            embed_url=embed_url,
        )
        self.contents[content_id] = content
        siblings.append(content_id)
        if kind == "blogpost":
            bisect.insort(self.space_blogposts[space.id], int(content_id))
        if kind == "page":
            bisect.insort(self.space_pages[space.id], int(content_id))
            if space.homepage_id is None and parent is None:
                space.homepage_id = content_id
        for label in labels:
            self.label_ids.setdefault(label, str(1000 + len(self.label_ids)))
        return content

    def add_attachment(
        self, page: Content, title: str, media_type: str, kind: str, data: bytes | None = None
    ) -> Attachment:
        attachment_id = "att" + self.new_id()
        attachment = Attachment(
            id=attachment_id,
            page_id=page.id,
            title=title,
            media_type=media_type,
            kind=kind,
            file_id=secrets.token_hex(16),
            created_at=self.tick(),
            author_id=page.author_id,
            data=data,
        )
        self.attachments[attachment_id] = attachment
        self.page_attachments.setdefault(page.id, []).append(attachment_id)
        return attachment

    def add_comment(
        self,
        container: Content,
        body: str,
        *,
        author_id: str = "",
        reply_to: Comment | None = None,
        selection: str = "",
        resolution: str = "open",
    ) -> Comment:
        """A footer comment, an inline one (with `selection`, the highlighted text), or a reply
        (`reply_to`, in the thread of its parent)."""
        created = self.tick()
        inline = bool(selection) or (reply_to is not None and reply_to.location == "inline")
        comment = Comment(
            id=self.new_id(),
            container_id=container.id,
            body=body,
            author_id=author_id or container.author_id,
            created_at=created,
            modified_at=created,
            location="inline" if inline else "footer",
            parent_id=reply_to.id if reply_to else None,
            resolution=resolution,
            selection=selection,
            marker_ref=secrets.token_hex(8) if selection else "",
        )
        self.comments[comment.id] = comment
        return comment

    def edit_comment(self, comment_id: str, body: str) -> None:
        """A comment edited: a new version of it (its page's version does not change)."""
        comment = self.comments[comment_id]
        comment.body = body
        comment.version += 1
        comment.modified_at = self.tick()

    def comment_ancestors(self, comment: Comment) -> list[Comment]:
        """The comments a reply answers, the thread's root first."""
        chain: list[Comment] = []
        parent_id = comment.parent_id
        while parent_id and parent_id in self.comments and len(chain) < 1000:
            chain.append(self.comments[parent_id])
            parent_id = self.comments[parent_id].parent_id
        return list(reversed(chain))

    # ---- reading ------------------------------------------------------------------------------

    def body_of(self, content: Content) -> str:
        return content.body if content.body is not None else self.body_factory(content)

    def bytes_of(self, attachment: Attachment) -> bytes:
        return attachment.data if attachment.data is not None else self.bytes_factory(attachment)

    def can_read_space(self, space_id: str, account_id: str | None) -> bool:
        """The space's read permission: anonymous users only where granted, a signed-in user
        by name, by one of their groups, or where anonymous users may read."""
        readers = self.space_readers.get(space_id)
        if readers is None:
            return True
        if readers.anonymous:
            return True
        return account_id is not None and (
            account_id in readers.users or bool(self.groups_of(account_id) & readers.groups)
        )

    def visible(self, content: Content, account_id: str | None) -> bool:
        """Whether a user (None: anonymous) may read it: the space's read permission, then the
        read restriction of the content and of every ancestor (inherited), each narrowing."""
        if not self.can_read_space(content.space_id, account_id):
            return False
        groups = self.groups_of(account_id)
        node: Content | None = content
        for _ in range(1000):
            if node is None:
                return True
            if not self.passes_restriction(node, account_id, groups):
                return False
            node = self.contents.get(node.parent_id) if node.parent_id else None
        return True

    @staticmethod
    def passes_restriction(node: Content, account_id: str | None, groups: set[str]) -> bool:
        if node.restricted_to is None and node.restricted_groups is None:
            return True  # no restriction of its own: nothing to narrow
        return (account_id is not None and account_id in (node.restricted_to or ())) or bool(
            groups & (node.restricted_groups or frozenset())
        )

    def child_ids(self, parent_id: str) -> list[str]:
        return self.children.get(parent_id, [])

    def ancestors(self, content: Content) -> list[Content]:
        chain: list[Content] = []
        parent_id = content.parent_id
        while parent_id and parent_id in self.contents and len(chain) < 1000:
            parent = self.contents[parent_id]
            chain.append(parent)
            parent_id = parent.parent_id
        return list(reversed(chain))

    def descendants(self, root_id: str, max_depth: int) -> Iterator[tuple[Content, int]]:
        """Top to bottom, breadth first: (content, depth) with depth 1 for direct children."""
        level = [root_id]
        for depth in range(1, max_depth + 1):
            next_level: list[str] = []
            for parent_id in level:
                for child_id in self.child_ids(parent_id):
                    yield self.contents[child_id], depth
                    next_level.append(child_id)
            level = next_level

    def space_of(self, key: str) -> Space | None:
        space_id = self.space_ids_by_key.get(key)
        return self.spaces.get(space_id) if space_id else None

    # ---- changing (tests and the sync scenarios) ----------------------------------------------

    def edit_page(self, page_id: str, *, body: str | None = None, title: str | None = None) -> None:
        page = self.contents[page_id]
        if body is not None:
            page.body = body
        if title is not None:
            page.title = title
        page.version += 1
        page.modified_at = self.tick()

    def new_attachment_version(self, attachment_id: str, data: bytes) -> None:
        """A new version of an attached file (its page's version does not change)."""
        attachment = self.attachments[attachment_id]
        attachment.data = data
        attachment.file_size = 0
        attachment.version += 1
        attachment.modified_at = self.tick()

    def label_page(self, page_id: str, *labels: str) -> None:
        """Add labels to a page (as in Confluence, this does not bump its version)."""
        page = self.contents[page_id]
        page.labels = tuple(dict.fromkeys([*page.labels, *labels]))
        for label in labels:
            self.label_ids.setdefault(label, str(1000 + len(self.label_ids)))

    def trash_content(self, content_id: str) -> None:
        """Move a page or blog post to the space's trash (status `trashed`, listed only when that
        status is asked for); its children move up to its parent, as in Confluence."""
        content = self.contents[content_id]
        content.status = "trashed"
        self._lift_children(content)
        if self.trash_dates_items:
            content.modified_at = self.tick()

    def restore_content(self, content_id: str) -> None:
        """Bring a page or blog post back from the trash, under its parent if that is still
        current, else at the space's root."""
        content = self.contents[content_id]
        content.status = "current"
        parent = self.contents.get(content.parent_id or "")
        if parent is None or parent.status != "current":
            self.move_content(content_id, None)
        if self.trash_dates_items:
            content.modified_at = self.tick()

    def delete_content(self, content_id: str) -> None:
        """Delete a page or folder for good (a purge from the trash, or a folder's deletion):
        its children move up to its parent, as in Confluence."""
        content = self.contents.pop(content_id)
        siblings = self.children.get(content.parent_id or f"space:{content.space_id}", [])
        if content_id in siblings:
            siblings.remove(content_id)
        self._lift_children(content)
        if content.kind in ("page", "blogpost"):
            listed = self.space_pages if content.kind == "page" else self.space_blogposts
            pages = listed[content.space_id]
            index = bisect.bisect_left(pages, int(content_id))
            if index < len(pages) and pages[index] == int(content_id):
                pages.pop(index)
        for attachment_id in self.page_attachments.pop(content_id, []):
            self.attachments.pop(attachment_id, None)

    def _lift_children(self, content: Content) -> None:
        for child_id in list(self.children.pop(content.id, [])):
            self.move_content(child_id, content.parent_id)

    def trash_attachment(self, attachment_id: str) -> None:
        """Delete an attached file: it goes to the trash (its page's version does not change)."""
        attachment = self.attachments[attachment_id]
        attachment.status = "trashed"
        if self.trash_dates_items:
            attachment.modified_at = self.tick()

    def purge_attachment(self, attachment_id: str) -> None:
        """An attached file deleted for good: no trace of it is left."""
        attachment = self.attachments.pop(attachment_id)
        self.page_attachments[attachment.page_id].remove(attachment_id)

    def move_content(self, content_id: str, new_parent_id: str | None) -> None:
        content = self.contents[content_id]
        old = self.children.get(content.parent_id or f"space:{content.space_id}", [])
        if content_id in old:
            old.remove(content_id)
        parent = self.contents.get(new_parent_id) if new_parent_id else None
        siblings = self.children.setdefault(new_parent_id or f"space:{content.space_id}", [])
        content.parent_id = parent.id if parent else None
        content.parent_type = parent.kind if parent else None
        content.position = len(siblings)
        siblings.append(content_id)
        content.version += 1
        content.modified_at = self.tick()
