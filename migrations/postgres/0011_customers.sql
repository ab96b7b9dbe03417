-- What we know of a customer across tickets: the language they write in
-- (detected from their own words or their mail's Content-Language), so a
-- short "thanks, 5" is answered in the language of their first mail.
CREATE TABLE customers (
    email      TEXT PRIMARY KEY,
    language   TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
