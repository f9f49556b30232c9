//! Drives the real `traceledger` binary on temporary folders: ingest, verify, log, rebuild,
//! bad input, duplicates, concurrency, a kill -9 mid-ingest, and tamper tests that edit the
//! SQLite file as an attacker would (issue 2).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod dhr;
mod format_doc;
mod ingest;
mod kpi;
mod merkle;
mod read_only;
mod support;
mod tamper;
mod tidy;
mod trace;
mod trust;
mod udi;
mod verify_and_log;
