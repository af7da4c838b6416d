-- lairchat: the DM lookup index covers DM rows only.
-- idx_messages_dm_author (target_type, author_id, target_id) had an entry for every
-- message, although only DM history reads it. As a partial index it costs a room
-- message nothing: one B-tree fewer to update on every insert. Measured with the
-- bench floor loop (WAL, synchronous=FULL, 100-row commits, 500k rows): about 1.7x
-- the inserts per second. DM queries say target_type = 'dm', so they still use it.
DROP INDEX IF EXISTS idx_messages_dm_author;
CREATE INDEX IF NOT EXISTS idx_messages_dm_pair ON messages(author_id, target_id) WHERE target_type = 'dm';
