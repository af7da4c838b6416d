-- lairchat additions: what the original documents but never built.

-- Read markers: the highest message rowid a user has read in a room or DM conversation.
-- target_id is the room id, or for a DM the other participant's id.
CREATE TABLE IF NOT EXISTS read_markers (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    last_read_seq INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, target_type, target_id)
);

-- Server-wide bans; expires_at NULL = permanent.
CREATE TABLE IF NOT EXISTS bans (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    reason TEXT,
    banned_by TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);

-- DM history looks messages up by author as well as by recipient.
CREATE INDEX IF NOT EXISTS idx_messages_dm_author ON messages(target_type, author_id, target_id);
