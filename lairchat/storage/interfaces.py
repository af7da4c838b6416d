"""The storage boundary. Services speak only to these interfaces, so another backend
(PostgreSQL, say) can be added without touching them. Every method returns a Deferred."""

from __future__ import annotations

from zope.interface import Attribute, Interface


class IUserStore(Interface):
    def create_user(user, after=0, check=None):
        """Insert a user; fails with ``username_taken`` or ``email_taken``. With
        ``check``, first ``check(users_after(after))`` in the same transaction, which
        may refuse the insert by raising: that no other process has just made a user
        whose name looks like this one (lairchat.domain.lookalike)."""

    def get_user(user_id):
        """The User or None."""

    def find_user_by_login(identifier):
        """Look ``identifier`` up as a username, then as an email (ASCII case-insensitive)."""

    def update_user_email(user_id, email, now):
        """Set email (``email_taken`` on conflict) and bump ``updated_at``; return the User."""

    def update_password(user_id, password_hash, now, keep=None, checked=None, audit=None):
        """Store a new hash, bump ``updated_at`` and delete every session of the user
        but ``keep``, all or nothing; return the ids deleted. With ``checked``, only
        while the stored hash is still that one; else None, and nothing changed.
        ``user_not_found`` if the user is gone or being deleted. ``audit`` (an
        AuditEntry) is written in the same transaction."""

    def set_role(user_id, role, audit=None):
        """Set the system role; return the User or None. ``audit`` is written in the
        same transaction, if the role changed (as read: a stored ``Admin`` is ``admin``)."""

    def list_users(limit, offset, search):
        """Users ordered by username (case-insensitive); ``search`` is a substring or
        None. Not those being deleted."""

    def user_names():
        """``{user_id: username}`` for every user (the hub's directory)."""

    def users_after(rowid):
        """``[(rowid, user_id, username)]`` of the users inserted after ``rowid`` (0:
        all), oldest first: the users another process made since the directory looked."""

    def system_roles(user_ids):
        """``{user_id: role}`` of those of ``user_ids`` that exist, as stored now
        (read by lairchat.revocation.RoleWatcher: a role another process set)."""


class ISessionStore(Interface):
    def create_session(session, password_hash=None, without_totp=False):
        """Insert a session row; return the Session. Not for a user banned at the
        session's start, nor, with ``password_hash``, unless the user's password hash
        is still that one, nor, ``without_totp``, for a user with two-factor sign-in
        on: then None, nothing inserted (one check with the insert, so that a ban, a
        password change or two-factor turned on landing meanwhile is never missed)."""

    def get_session(session_id):
        """The Session or None (with ``last_active_at``, which its check may renew)."""

    def touch_session(session_id, now, every):
        """Set the session's ``last_active_at`` to ``now`` unless it was set less than
        ``every`` seconds before: at most one write per session per ``every``."""

    def delete_session(session_id):
        """Delete a session; True if it existed."""

    def list_user_sessions(user_id, now, limit, offset=0):
        """The user's sessions not expired at ``now`` (as the session check counts
        them: ``expires_at >= now``), newest first, at most ``limit`` after the first
        ``offset``, every column read."""

    def delete_user_sessions(user_id, keep=None):
        """Delete every session of a user but ``keep`` (a session id, or None);
        return the ids deleted."""

    def existing_sessions(session_ids):
        """The subset of ``session_ids`` that still have a session row."""

    def prune_sessions(expired_before, batch):
        """Delete at most ``batch`` sessions that expired before ``expired_before``,
        in one short transaction; fires with how many (lairchat.core.retention)."""


class IRoomStore(Interface):
    def create_room(room, membership):
        """Insert a room and its owner's membership; ``room_name_taken`` on conflict."""

    def get_room(room_id):
        """The Room or None."""

    def update_room(room):
        """Write name, description and settings; ``room_name_taken`` on conflict."""

    def delete_room(room_id, by=None, audit=None):
        """Delete the room and its invitations (memberships cascade; messages stay):
        ``room_not_found`` if it is gone; with ``by`` (a user id), ``permission_denied``
        unless that user created the room or is one of its owners then. ``audit`` is
        written in the same transaction, refused with it if its actor can no longer
        act (as :meth:`put_ban`'s ``banned_by``)."""

    def list_public_rooms(limit, offset, search):
        """``[(Room, member_count)]`` of public rooms by name (case-insensitive)."""

    def list_joined_rooms(user_id, limit, offset):
        """``[(Room, member_count)]`` of the user's rooms by name."""

    def member_count(room_id):
        """Number of memberships of the room."""

    def get_membership(room_id, user_id):
        """The Membership or None."""

    def add_membership(membership, max_members, accept_invitation_at, entry=None, code=None):
        """Insert unless the room is full (``room_full``) or the user a member
        (``already_member``); mark a pending invitation accepted at the given time.
        ``entry``, if given, is ``(invitation id, error code)``: the invitation the
        user enters with, which must still be pending and unexpired then (else that
        error, before the other checks). ``code``, if given, is the id of the invite
        code the user enters with: it must still admit someone at ``joined_at`` (else
        ``invite_code_not_found``, before the other checks), and counts one use more
        if the membership is added."""

    def remove_membership(room_id, user_id):
        """Delete a membership; True if it existed."""

    def set_member_role(room_id, user_id, role):
        """Update a membership's role."""

    def count_owners(room_id):
        """Memberships of the room with role ``owner``."""

    def list_members(room_id):
        """``[Member]`` ordered by join time."""

    def all_memberships():
        """``[(room_id, user_id)]``: the hub's in-memory membership index at start."""


class IMessageStore(Interface):
    def insert_messages(messages):
        """Durably insert ``messages`` in one transaction; fires after the commit with
        their ``seq`` numbers, in order, and sets each message's ``seq``. On failure
        none of them is stored. A message whose author's account was deleted while
        it was on the way is left out, the others stored: a Failure in its place."""

    def get_message(message_id):
        """The Message or None."""

    def update_message_content(message_id, content, now):
        """Set content, ``is_edited`` and ``updated_at``; False if there was no such
        message (deleted meanwhile)."""

    def delete_message(message_id):
        """Hard delete; False if there was no such message (deleted meanwhile)."""

    def prune_messages(created_before, after_seq, batch):
        """Of the ``batch`` messages after seq ``after_seq``, delete those created
        before ``created_before``, in one short transaction; their seqs are never
        given again. Fires with ``(deleted, last)``: the ``after_seq`` of the next
        batch, or None when there is no more to prune (lairchat.core.retention)."""

    def empty_log():
        """Copy the write-ahead log into the database and empty it; fires with
        whether it could (a long read in progress keeps it)."""

    def history(target, viewer_id, limit, before, after):
        """Newest first. ``before``/``after`` are ``("seq", n)`` or ``("time", t)`` or None."""

    def search_messages(
        viewer_id, target, room_ids, before, match, limit, budget, seconds, filters
    ):
        """Message search's scan (lairchat.domain.search): the messages of ``target``
        (None: the rooms ``room_ids`` and every DM of ``viewer_id``'s) below seq
        ``before`` (None: all), newest first, that ``filters`` admit (a
        ``search.Filters``; optional) and whose content ``match`` accepts; at most
        ``limit`` of them, ``budget`` messages examined at most, and for at most
        ``seconds`` past the first. Fires with
        ``(matches, last_id, more)``: the id of the last message examined, and
        whether any is left below it."""

    def latest_seq(target, viewer_id):
        """The newest message's ``seq`` in a conversation (0 if empty)."""

    def seq_of(message_id):
        """The ``seq`` of a message, or None."""

    def unread_counts(user_id, room_ids, username):
        """``{"by_room": {id: n}, "by_dm": {id: n}, "mentions": {"by_room": {id: m},
        "by_dm": {id: m}}}`` above the user's read markers: ``mentions`` counts the
        messages among those that mention ``username`` (lairchat.domain.mentions).
        May write, after the read and without the answer waiting for it: the user's
        DM floor (migration 009)."""

    def mark_read(moves, now):
        """Move read markers forward (never back), every ``(user_id, target,
        up_to_seq)`` of ``moves`` in one transaction."""

    def unread_count(user_id, target, username):
        """``(unread, mentions)``: unread messages in one room or DM conversation,
        and how many of them mention ``username``."""


class IReactionStore(Interface):
    """Message reactions (lairchat.core.reactions, migration 011); a message's go with
    it in every deletion of messages above."""

    def add_reaction(message_id, user_id, emoji, now):
        """Add one, unless there; fires with whether it was added. ``message_not_found``
        if the message is gone, ``validation_failed`` for a new emoji past the cap
        (lairchat.domain.reactions), both decided in the write."""

    def remove_reaction(message_id, user_id, emoji):
        """Remove one; fires with whether it was there."""

    def reactions_of(message_ids, reader=None):
        """``{message_id: [{"emoji", "count", "user_ids", "me"}]}`` for those that have
        any, in one read: emoji in the order first used, ``user_ids`` the first
        USER_IDS_SHOWN in the order they reacted, ``count`` all of them, ``me``
        whether ``reader`` is among them all (no ``me`` without a reader)."""


class IPinStore(Interface):
    """Pinned room messages (lairchat.core.pins, migration 012); a message's pin goes
    with it in every deletion of messages above, a room's with the room, an account's
    with the account."""

    def pin_message(message_id, room_id, user_id, now):
        """Pin one, unless pinned; fires with whether it was added.
        ``message_not_found`` if the message is gone, ``room_not_found`` if its room
        is, ``validation_failed`` for a new pin past the room's cap
        (lairchat.domain.pins), all decided in the write."""

    def unpin_message(message_id):
        """Unpin one; fires with whether it was pinned."""

    def pins_of(room_id):
        """``[(message, pinned_by, pinned_at)]``, the newest pin first, in one read."""


class IInvitationStore(Interface):
    def create_invitation(invitation, now):
        """Insert unless the invitee is a member of the room (``already_member``) or a
        pending unexpired one exists (``already_invited``)."""

    def get_invitation(invitation_id):
        """The enriched Invitation or None."""

    def list_pending_invitations(user_id, now, limit=None, offset=0):
        """Pending unexpired invitations for the user, newest first; at most ``limit``
        after the first ``offset``."""

    def list_room_invitations(room_id, now, limit, offset=0):
        """Pending unexpired invitations to the room, newest first; at most ``limit``
        after the first ``offset``."""

    def find_pending_invitation(room_id, user_id, now):
        """A pending unexpired Invitation for (room, user), or None."""

    def set_invitation_status(invitation_id, status, now):
        """Record a response to (or the revocation of) a pending, unexpired invitation;
        False if it was not (answered, revoked or expired meanwhile)."""

    def prune_invitations(settled_before, batch):
        """Delete at most ``batch`` invitations settled before ``settled_before`` (one
        answered or revoked then, or still pending and expired then), in one short
        transaction; fires with how many (lairchat.core.retention)."""


class IInviteCodeStore(Interface):
    """Room invite codes (lairchat.core.invitecodes, migration 015): kept as hashes;
    a room's go with the room, an account's with the account."""

    def create_invite_code(code, code_hash):
        """Insert an InviteCode stored as ``code_hash``: ``room_not_found`` if the room
        is gone, ``validation_failed`` past the room's live codes
        (lairchat.domain.invitecodes), both decided in the write."""

    def find_invite_code(code_hash, now):
        """The InviteCode with this hash that admits someone at ``now`` (not expired,
        not used up), or None."""

    def list_invite_codes(room_id, now):
        """The room's InviteCodes that admit someone at ``now``, newest first."""

    def invite_code(room_id, code_id):
        """The room's InviteCode with this id, whether it admits anyone or not
        (expired, used up), or None (revoked, or never the room's)."""

    def delete_invite_code(room_id, code_id):
        """Delete (revoke) one of the room's codes; fires with whether it was there."""

    def delete_invite_codes_by(room_id, user_id):
        """Delete (revoke) the room's codes ``user_id`` made (kicked or no longer a
        moderator there); fires with the ids deleted."""

    def prune_invite_codes(ended_before, batch):
        """Delete at most ``batch`` codes expired before ``ended_before``, in one
        short transaction; fires with how many (lairchat.core.retention)."""


class IAdminStore(Interface):
    def counts():
        """``{"users": n, "rooms": n, "messages": n}``; users being deleted are not
        counted (their messages are, until erased)."""

    def get_ban(user_id):
        """The Ban or None."""

    def put_ban(ban, audit=None):
        """Insert or replace a ban. Decided when it is written: LairError
        ``user_not_found`` if the user is gone or being deleted; if its ``banned_by``
        (None: the operator) can no longer act, ``account_banned`` (banned),
        ``session_not_found`` (deleted) or ``permission_denied`` (not an admin any
        more). ``audit`` is written in the same transaction."""

    def delete_ban(user_id, by=None, now=0, audit=None):
        """Lift a ban; True if one was in force at ``now`` (one run out is deleted
        too). Refused as :meth:`put_ban` is, for ``by`` (the admin lifting it) and the
        user. ``audit`` is written in the same transaction, if True."""

    def add_audit(entry):
        """Write an AuditEntry in a transaction of its own."""

    def audit_entries(limit, before=None, action=None, subject_id=None, actor_id=None, name=None):
        """Up to ``limit`` AuditEntries, newest first, older than the entry ``before``
        (``validation_failed`` if there is none), filtered by action, subject id, actor
        id, or a name the actor or user subject had (ignoring case)."""

    def prune_audit(older_than, batch):
        """Delete up to ``batch`` audit entries made before ``older_than``; fires with
        how many."""

    def ping():
        """Fires when the database answers a trivial query (readiness)."""


class IAccountDeletionStore(Interface):
    """The steps of deleting an account (lairchat.core.deletion), each one short
    transaction; listings and ``counts`` leave out an account from the first."""

    def begin_deletion(user_id, now, keep_an_admin=False, audit=None):
        """Mark the account deleted, all or nothing: sessions ended (their ids are the
        result), password hash unusable, pending invitations from and to the user
        cancelled; None if there is no such user. With ``keep_an_admin``,
        ``permission_denied`` for the last admin that can act, decided in the write.
        ``audit`` is written with the mark, if this call made it, and refuses it as
        :meth:`delete_room`'s does."""

    def is_last_admin(user_id, now):
        """Whether the user is an admin and no other admin can act at ``now`` (as
        :meth:`begin_deletion` decides it with ``keep_an_admin``)."""

    def deletions_pending():
        """``[(user_id, erased_to)]`` of the deletions begun and not finished."""

    def rooms_to_hand_over(user_id):
        """The ids of the rooms the user is a member of or created."""

    def hand_over_room(room_id, user_id, now):
        """Take the user out of the room: delete it if no one else is in it, else pass
        ownership on if the user held it (and ``owner_id``), to a member who can act
        at ``now`` (not banned, not being deleted) if any; fires with a Handover, or
        None if the room is gone."""

    def authored_in(user_id, after_seq, scan):
        """``(seqs, last, more)``: the user's messages among the ``scan`` after
        ``after_seq``, where that window ends, and whether more may follow (a read)."""

    def erase_messages(user_id, seqs):
        """Delete those of ``seqs`` that are the user's messages, overwritten in the
        file; record the progress; fires with how many."""

    def end_account(user_id, erased_to):
        """Delete the user's later messages and every row naming the user, then the
        user row; fires with its rowid (0: no such user), or None, changing nothing,
        while the user is in a room or created one."""


class IExportStore(Interface):
    """Reads for a user's data export (lairchat.core.export), each one short read."""

    def export_rows(section, user_id, after, limit):
        """``(items, last)``: the next ``limit`` rows naming the user in ``section``
        (sessions, rooms, invitations, read_markers, reactions, pins, invite_codes) after
        rowid ``after``,
        and the last one's rowid."""

    def message_seq_end():
        """The last message's seq, 0 for none."""

    def export_messages(user_id, after, end, scan, limit):
        """``(messages, reached)``: the user's messages (written, or DMs received)
        among seqs ``after`` to ``min(after + scan, end)``, at most ``limit``, oldest
        first, and the seq the read reached."""


class ITwoFactorStore(Interface):
    """Two-factor sign-in (lairchat.core.twofactor, migration 014): an account's sealed
    TOTP secret and its unused recovery codes (hashed); gone with the account."""

    def totp_of(user_id):
        """``(sealed_secret, enabled, recovery_codes_left)``, or None: never asked."""

    def put_totp_secret(user_id, sealed, now):
        """Store a new secret, not yet enabled, over any earlier one not enabled:
        ``totp_already_enabled`` if it is on, ``user_not_found`` if the user is gone
        or being deleted."""

    def enable_totp(user_id, sealed, step, code_hashes, now, keep=None):
        """Turn it on, if ``sealed`` is still the secret set up (else None, nothing
        changed), with ``step`` as the last one used and ``code_hashes`` as the
        recovery codes, and delete every session of the user but ``keep``: the ids
        deleted."""

    def disable_totp(user_id, keep=None):
        """Delete the secret and the recovery codes, and, if it was on, every session
        of the user but ``keep``: the session ids deleted, or None if it was not on."""

    def reset_totp(user_id, audit=None, pending=None):
        """The operator's reset: delete the secret and the recovery codes, on or only
        set up. ``(True, ids)`` if it was on (every session of the user deleted, their
        ids; ``audit`` written), ``(False, [])`` if it was set up and never turned on
        (``pending`` written), None if there was nothing."""

    def replace_recovery_codes(user_id, code_hashes):
        """Put ``code_hashes`` in place of every recovery code of the user, in one
        write, if it is on: whether it did."""

    def use_totp_step(user_id, step):
        """Record ``step`` as the last one used, if it is on and ``step`` comes after
        the last one used: whether it did (a code is accepted once)."""

    def use_recovery_code(user_id, code_hash):
        """Delete the recovery code, if it is on and the code is unused: whether it did."""


class IStore(
    IUserStore,
    ISessionStore,
    IRoomStore,
    IMessageStore,
    IReactionStore,
    IPinStore,
    IInvitationStore,
    IInviteCodeStore,
    IAdminStore,
    IAccountDeletionStore,
    IExportStore,
    ITwoFactorStore,
):
    """Everything the services need from storage."""

    path = Attribute("Where the data lives (a file path or ':memory:').")

    def close():
        """Stop the pools."""
