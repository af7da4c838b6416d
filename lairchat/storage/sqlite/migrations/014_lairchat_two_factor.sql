-- lairchat: two-factor sign-in (docs/SECURITY.md, "Two-factor sign-in"). One row per
-- account that has asked for a secret: enabled_at NULL until a code from it turns it
-- on (POST /users/me/2fa/enable). secret is the TOTP key sealed with AES-256-GCM
-- under a key derived from the JWT secret (nonce first; the account's id is the
-- associated data): a copy of the database alone gives out no codes. last_step is
-- the time step of the last code accepted: a code of that step or an earlier one is
-- refused (no replay), decided by the write that accepts it.
CREATE TABLE IF NOT EXISTS user_totp (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    enabled_at INTEGER,
    last_step INTEGER NOT NULL DEFAULT 0
);

-- The recovery codes not yet used, as SHA-256 hashes (of the account's id and the
-- code): each is deleted by the write that accepts it.
CREATE TABLE IF NOT EXISTS user_recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
) WITHOUT ROWID;
