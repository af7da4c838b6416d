-- lairchat: how many messages are stored, without counting them all. COUNT(*) on
-- the messages table reads every row of an index (44 ms of CPU for 3 million
-- messages, on the server's core), and /metrics and the admin stats asked for it on
-- every scrape. `counted` is the number of messages whose rowid is at most `upto`:
-- the message writer moves `upto` up in strides (lairchat.storage.sqlite.writer),
-- the trigger takes a deleted message out of `counted` if it was in it and keeps
-- `upto` at or below the newest message left (so that a message added at a freed
-- rowid lies above it), and the count is `counted` plus the messages above `upto`
-- (a short range of rowids).
CREATE TABLE IF NOT EXISTS message_tally (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    counted INTEGER NOT NULL,
    upto INTEGER NOT NULL
);
INSERT OR IGNORE INTO message_tally (id, counted, upto)
    SELECT 1, COUNT(*), COALESCE(MAX(rowid), 0) FROM messages;
CREATE TRIGGER IF NOT EXISTS message_tally_deleted AFTER DELETE ON messages
BEGIN
    UPDATE message_tally SET counted = counted - (old.rowid <= upto),
        upto = MIN(upto, (SELECT COALESCE(MAX(rowid), 0) FROM messages)) WHERE id = 1;
END;
