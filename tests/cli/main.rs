//! Drives the real `traceledger` binary on temporary folders: ingest, verify, log, rebuild,
//! bad input, duplicates, concurrency, a kill -9 mid-ingest, and tamper tests that edit the
//! SQLite file as an attacker would (issue 2).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod dhr;
mod dhr_plant;
mod format_doc;
mod html_print;
mod ingest;
mod kpi;
mod merkle;
mod messages;
mod multisite;
mod read_only;
mod readme_tour;
mod review;
mod support;
mod tamper;
mod tidy;
mod trace;
mod trust;
mod udi;
mod udi_front_door;
mod verify_and_log;
mod vocabulary;
