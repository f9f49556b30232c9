//! traceledger: an append-only, hash-chained ledger of medical-device production events.
//!
//! Layers, bottom up (docs/architecture.md): `event` (vocabulary, schemas, canonical JSON,
//! entity references), `udi` (UDI parsing) and `time`; `chain` (record hashing) and `merkle` (the RFC 9162 tree over record hashes); `store` (the SQLite file, the
//! only module that knows SQL); `ingest` and `verify` (the front door); `simulate` (a
//! realistic event generator). The binary's `cli` is a thin edge over these.

pub mod audit_trail;
pub mod bundle;
pub mod chain;
pub mod checkpoint;
pub mod correction;
pub mod csv;
pub mod device_history;
mod error_kind;
pub mod event;
pub mod genealogy;
pub mod genesis;
pub mod ingest;
pub mod kpi;
pub mod log_tree;
pub mod merkle;
pub mod people;
pub mod review;
pub mod signing;
pub mod simulate;
pub mod store;
pub mod subject;
pub mod time;
pub mod udi;
pub mod verify;

pub use error_kind::ErrorKind;
