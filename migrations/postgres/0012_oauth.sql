-- OAuth2 accounts ([oauth.NAME]): the tokens `postdesk auth login` obtained
-- and the daemon refreshes. Tokens are sealed (AES-256-GCM) when
-- [database] secret_key_env/secret_key_file is configured ("v1:" prefix),
-- stored as given otherwise ("plain:" prefix). `generation` grows with every
-- write of new tokens; `refreshing_by`/`refreshing_until` is the lease that
-- lets one instance at a time use the (rotating) refresh token; a failed
-- refresh is kept (`failed_at`, `error`) so every instance and
-- `auth status` see it, and `alerted_at` makes the admins' mail once per
-- incident.
CREATE TABLE oauth_accounts (
    name              TEXT PRIMARY KEY,
    access_token      TEXT,
    access_expires_at BIGINT,
    refresh_token     TEXT,
    scope             TEXT,
    generation        BIGINT NOT NULL DEFAULT 0,
    last_refresh_at   BIGINT,
    refreshing_by     TEXT,
    refreshing_until  BIGINT,
    failed_at         BIGINT,
    error             TEXT,
    alerted_at        BIGINT,
    updated_at        BIGINT NOT NULL
);
