-- Derived: each unit's way through production, the facts the plant KPIs are made of
-- (src/event/unit_facts.rs), kept up to date as records are appended so that `kpi` never
-- scans the log. Recomputed from the records by `traceledger rebuild`.
CREATE TABLE unit_progress (
    unit        TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    product     TEXT NOT NULL,
    period      TEXT NOT NULL,           -- YYYY-MM of started_at
    started_at  TEXT NOT NULL,           -- occurred_at of unit.started, as sent
    released_at TEXT,                    -- occurred_at of the last unit.released
    scrapped    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX unit_progress_by_group ON unit_progress (site, product, period);

-- The first result of each operation on each unit (first-pass yield, right-first-time).
CREATE TABLE unit_first_results (
    unit   TEXT NOT NULL,
    op     TEXT NOT NULL,
    passed INTEGER NOT NULL,
    PRIMARY KEY (unit, op)
) WITHOUT ROWID;

-- Nonconformances opened on units, and whether each has a disposition.
CREATE TABLE unit_ncrs (
    ncr           TEXT PRIMARY KEY,
    unit          TEXT NOT NULL,
    dispositioned INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX unit_ncrs_by_unit ON unit_ncrs (unit);

-- Environment readings by area, sensor and time (occurred_at in Unix milliseconds): the DHR
-- of an implantable finds, for each sensor of each area the unit was worked in, the reading
-- in force when work began and every reading during it, without reading every reading of the
-- area.
CREATE TABLE area_readings (
    area      TEXT NOT NULL,
    sensor    TEXT NOT NULL,
    at_millis INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (area, sensor, at_millis, seq)
) WITHOUT ROWID;
