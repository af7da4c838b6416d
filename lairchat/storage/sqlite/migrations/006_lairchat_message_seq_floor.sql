-- lairchat: a message's seq (its rowid) is never handed out twice.
-- SQLite numbers a new row max(rowid) + 1, so deleting the newest message gave the
-- next message its seq; a read marker or paging cursor at that seq then treated the
-- new message as already seen. Deleting a message records its seq here (the highest
-- ever deleted), and the message writer numbers new messages past it.
CREATE TABLE IF NOT EXISTS message_seq_floor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT OR IGNORE INTO message_seq_floor (id, seq) VALUES (1, 0);
