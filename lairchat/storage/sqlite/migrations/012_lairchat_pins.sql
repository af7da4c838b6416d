-- lairchat: pinned messages (docs/protocols/HTTP.md, "Pinned messages"). One row per
-- pinned room message, at most 50 a room (decided by the store in the write that
-- pins); the rowid orders a room's pins, the newest last.
--
-- No foreign key to messages (nothing may cost a message insert, migration 004) nor
-- to rooms (a room's messages outlive it, and its pins are deleted with the room by
-- the store): every deletion of messages deletes their pins first, in the same
-- transaction, as their reactions (migration 011).
CREATE TABLE IF NOT EXISTS pins (
    message_id TEXT PRIMARY KEY NOT NULL,
    room_id TEXT NOT NULL,
    pinned_by TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    pinned_at INTEGER NOT NULL
);

-- A room's pins, newest first (the rowid is the index's last column), and the count
-- the cap reads.
CREATE INDEX IF NOT EXISTS idx_pins_room ON pins(room_id);

-- The pins an account made, deleted with it (the store's end_account): found by the
-- user, not by reading every pin while holding the write lock.
CREATE INDEX IF NOT EXISTS idx_pins_pinned_by ON pins(pinned_by);
