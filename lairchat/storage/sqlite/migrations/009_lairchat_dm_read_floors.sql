-- lairchat: where the search for a user's unread DMs starts (docs/architecture.md,
-- "Reads at scale"). Unread counts need every partner who ever sent the user a DM;
-- finding them read every DM the user ever received (its row, for the author), on
-- each GET /users/me, however long ago all of them were read. Below seq, every DM
-- to user_id is by a partner that has a read_markers row of the user's (a marker
-- at 0 counts as none), so partners are those rows plus the authors of the DMs
-- above seq. Raised by the server once such a search reads many rows; a database
-- without this table (the original server's) has nothing that needs it.
CREATE TABLE IF NOT EXISTS dm_read_floors (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL
);
