-- Derived: the forward genealogy (src/event/trace_links.rs), one row per link or recall fact
-- a record states about a unit, lot or work order, kept as records are appended so that a
-- forward trace reads a few short rows per unit it reaches instead of every record naming
-- it. Recomputed from the records by `traceledger rebuild`.
CREATE TABLE trace_links (
    subject      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    n            INTEGER NOT NULL,       -- the link's place among the record's links
    subject_kind TEXT NOT NULL,          -- unit, lot or work_order: the field it was read from
    relation     TEXT NOT NULL,          -- consumed_by_unit, installed_in, shipped, ...
    other        TEXT,                   -- the unit, lot or order at the other end
    detail       TEXT,                   -- quantity and operation, customer, ...
    PRIMARY KEY (subject, seq, n)
) WITHOUT ROWID;
