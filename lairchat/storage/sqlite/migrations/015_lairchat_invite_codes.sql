-- lairchat: room invite codes (docs/protocols/HTTP.md, "Invite codes"). A code lets
-- anyone signed in join its room, a private one too. Only the code's SHA-256 is
-- kept (code_hash), and its first characters (prefix) to tell codes apart in a
-- listing: a copy of the database gives out no working code (docs/SECURITY.md).
-- max_uses NULL: no limit. uses counts the joins made with it, each in the write
-- that adds the membership (IStore.add_membership). A revoked code is deleted; an
-- expired or used-up one is kept until retention deletes it (lairchat.core.retention).
CREATE TABLE IF NOT EXISTS room_invite_codes (
    id TEXT PRIMARY KEY NOT NULL,
    room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_uses INTEGER,
    uses INTEGER NOT NULL DEFAULT 0
);

-- A room's codes (its listing, its cap, its deletion).
CREATE INDEX IF NOT EXISTS idx_room_invite_codes_room ON room_invite_codes(room_id);

-- The codes an account made (its export, its deletion).
CREATE INDEX IF NOT EXISTS idx_room_invite_codes_created_by ON room_invite_codes(created_by);

-- Retention's scan for those expired long ago.
CREATE INDEX IF NOT EXISTS idx_room_invite_codes_expires ON room_invite_codes(expires_at);
