//! The portal's black-box tests, in one binary: each test starts its own portal on port 0 with
//! a fresh database (SQLite, or PostgreSQL when `TEST_POSTGRES_URL` is set) and, where it needs
//! mail, a real SMTP server. One binary links once; the modules are the areas of the portal.
//! The tests run in parallel, each on a runtime of its own (`support::run`). Three kinds stay in
//! binaries of their own, which cargo runs one after another: `alone/` (response times
//! compared, and the process-wide password hashing counted and bounded: one test at a time,
//! nothing else sharing the machine),
//! `logs.rs` (it installs the process-wide log subscriber) and `staff_signin_load.rs` (it reads
//! the process's memory).

mod support;

mod api;
mod audit;
mod backup;
mod cli;
mod consents;
mod crash;
mod dashboard;
mod erasure;
mod export;
mod foundation;
mod http_edges;
mod mail;
mod metrics;
mod my_data;
mod my_pages;
mod photos;
mod requests;
mod retention;
mod sealed;
mod sessions;
mod shutdown;
mod signin_pages;
mod signin_request;
mod signin_tokens;
mod staff_area;
