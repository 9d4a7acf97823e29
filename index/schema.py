"""The SQLite store's tables, and the columns a stored chunk is read with (index.store)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    url TEXT, published TEXT, source TEXT, lang TEXT, path TEXT,
    text_hash TEXT NOT NULL UNIQUE,
    added TEXT NOT NULL,
    updated TEXT NOT NULL,
    story INTEGER                               -- rowid of the first article of its story
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,      -- the FAISS id; never reused
    article INTEGER NOT NULL REFERENCES articles(rowid),
    seq INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    sentences TEXT NOT NULL,                    -- JSON [[start, end], ...], article offsets
    vector BLOB NOT NULL                        -- float32, unit length
);
-- The vectors of each chunk's sentences, read in context (index.sentence_vectors), in the order of
-- chunks.sentences; index.int8 packs them. A chunk without a row has its sentences embedded
-- when a question needs them (indexes written before this table, embedders without it).
CREATE TABLE IF NOT EXISTS sentence_vectors (
    chunk INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    vectors BLOB NOT NULL
);
-- Other ids under which an article's very text was read (index.build): kept as names of it,
-- with what a citation needs, and gone with it. A writer opening an older store adds it.
CREATE TABLE IF NOT EXISTS aliases (
    id TEXT PRIMARY KEY,
    article INTEGER NOT NULL REFERENCES articles(rowid) ON DELETE CASCADE,
    title TEXT NOT NULL,
    url TEXT, published TEXT, source TEXT, lang TEXT, path TEXT
);
CREATE INDEX IF NOT EXISTS aliases_by_article ON aliases(article);
CREATE INDEX IF NOT EXISTS aliases_by_url ON aliases(url);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article);
CREATE INDEX IF NOT EXISTS articles_by_date ON articles(published);
CREATE INDEX IF NOT EXISTS articles_by_story ON articles(story);
-- The local search backend's (index.local_backend): what it indexes of each chunk, the
-- fields a scope is cut by and the folded text of its keyword row (`body`), which deleting
-- the row must supply again; and the keyword index, contentless.
CREATE TABLE IF NOT EXISTS search_entries (
    id INTEGER PRIMARY KEY,                     -- the chunk id
    published TEXT, source TEXT, url TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS search_entries_by_date ON search_entries(published);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    body, content='', tokenize='unicode61 remove_diacritics 2'
);
"""

CHUNK_COLUMNS = """
    c.id, a.id, a.title, a.url, a.published, a.source,
    substr(a.text, c.start + 1, c."end" - c.start), c.start, c."end", c.sentences,
    coalesce(a.story, a.rowid)
"""
