-- lairchat: the admin audit log (docs/protocols/HTTP.md, "GET /api/v1/admin/audit";
-- docs/operations.md, "Audit log"). One row per server-level administrative action
-- that changed something: bans, unbans, account and room deletions by an admin, and
-- the operator command's changes. actor_id NULL: the operator (lairchat admin ...).
-- The names are those at the time; details is a JSON object.
--
-- No foreign keys: an entry must outlive the user or room it names ("who deleted
-- that room?"). Entries are deleted only by age (LAIR_AUDIT_RETENTION_DAYS, the
-- hourly sweep, through the index on at). Listings go newest first by rowid.
CREATE TABLE IF NOT EXISTS admin_audit (
    id TEXT PRIMARY KEY NOT NULL,
    at INTEGER NOT NULL,
    actor_id TEXT,
    actor_name TEXT,
    action TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX IF NOT EXISTS idx_admin_audit_at ON admin_audit(at);
