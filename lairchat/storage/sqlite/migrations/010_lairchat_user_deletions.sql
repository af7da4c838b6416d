-- lairchat: accounts being deleted (DELETE /api/v1/users/me, lairchat admin
-- delete-user; docs/SECURITY.md, "Deleting an account"). A row is written in the
-- first transaction of a deletion, with the account's sessions ended and its
-- password hash made unusable, and goes with the user row in the last: a server
-- that dies in between finds the row at its next start and finishes the job, and
-- one running beside the operator command finds the rows it writes. erased_to is
-- how far (a message seq) the erasure of the account's messages has got.
CREATE TABLE IF NOT EXISTS user_deletions (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    requested_at INTEGER NOT NULL,
    erased_to INTEGER NOT NULL DEFAULT 0
);
