-- Several instances on one database: each mailbox is fetched by one
-- instance at a time, the holder of its lease.
CREATE TABLE mailbox_leases (
    mailbox TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    until   BIGINT NOT NULL
);
