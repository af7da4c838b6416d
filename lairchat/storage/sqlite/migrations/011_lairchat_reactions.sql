-- lairchat: message reactions (docs/protocols/HTTP.md, "Reactions"). One row per
-- (message, emoji, user); the rowid orders them: an emoji's first row is when it was
-- first used on the message, and its rows are its users in the order they reacted.
--
-- No foreign key to messages: nothing may cost a message insert (migration 004), and
-- a message's reactions are deleted by the store with it, in the same transaction
-- (delete, retention, an account's erasure). A message deleted by a server that does
-- not know this table (Lair Chat on the same file) leaves rows no history reaches
-- (history reads reactions for the messages it found).
CREATE TABLE IF NOT EXISTS reactions (
    message_id TEXT NOT NULL,
    emoji TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);

-- An account's reactions, deleted with it (the store's end_account): found by the
-- user, not by reading every reaction while holding the write lock.
CREATE INDEX IF NOT EXISTS idx_reactions_user ON reactions(user_id);
