-- lairchat: indexes for reads that sorted or scanned a whole table on a large database
-- (docs/architecture.md, "Reads at scale"). None is on messages: every index there
-- costs each message insert, and these tables are written rarely.

-- The public room list, a page at a time in name order: read in index order and
-- stopped at the page's end, not every public room sorted for each page.
CREATE INDEX IF NOT EXISTS idx_rooms_public_by_name ON rooms(is_private, name);

-- A user's pending invitations, newest first, a page at a time; and the pending
-- invitation to one room (a join, a new invitation): found among the invitee's
-- pending ones, not among every invitation the room or the user ever had.
CREATE INDEX IF NOT EXISTS idx_invitations_invitee_status ON invitations(invitee_id, status, created_at);

-- A room's read markers, deleted with the room: found by the room, not by reading
-- every marker while holding the write lock that message commits wait for. A marker
-- moving on changes no indexed column, so only a conversation's first costs more.
CREATE INDEX IF NOT EXISTS idx_read_markers_target ON read_markers(target_type, target_id);
