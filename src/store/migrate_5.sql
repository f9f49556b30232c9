-- Schema 4 -> 5 (run by store::migrate_to in one transaction, then area_readings is refilled
-- from the environment records). See docs/architecture.md, "The ledger file".
--
-- entity_refs gains each record's event type, in its key: (entity, kind, role, type, seq).
-- A WITHOUT ROWID table cannot change its key in place, so the index is copied into a new
-- table with the type read from the records' `type` column (which verify holds to the
-- hashed event), and the old one dropped. The types are first copied by seq from the type
-- index (which holds them without the events' text), so that the copy looks each row's type
-- up in a table of a few dozen bytes per record instead of in the log's pages.
CREATE TEMP TABLE types_5 (seq INTEGER PRIMARY KEY, type TEXT NOT NULL);
INSERT INTO types_5 (seq, type)
    SELECT seq, type FROM records INDEXED BY records_by_type ORDER BY seq;
CREATE TABLE entity_refs_5 (
    entity TEXT NOT NULL,
    kind   TEXT NOT NULL,
    role   INTEGER NOT NULL,
    type   TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (entity, kind, role, type, seq)
) WITHOUT ROWID;
INSERT INTO entity_refs_5 (entity, kind, role, type, seq)
    SELECT e.entity, e.kind, e.role, t.type, e.seq
    FROM entity_refs e JOIN temp.types_5 t ON t.seq = e.seq;
DROP TABLE temp.types_5;
DROP TABLE entity_refs;
ALTER TABLE entity_refs_5 RENAME TO entity_refs;

-- area_readings gains the sensor of each reading (environment.recorded's data.sensor), in
-- its key: (area, sensor, at_millis, seq). Emptied here, refilled from the records.
DROP TABLE area_readings;
CREATE TABLE area_readings (
    area      TEXT NOT NULL,
    sensor    TEXT NOT NULL,
    at_millis INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (area, sensor, at_millis, seq)
) WITHOUT ROWID;
