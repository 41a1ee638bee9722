//! The portal's black-box tests, in one binary: each test starts its own portal on port 0 with
//! a fresh database (SQLite, or PostgreSQL when `TEST_POSTGRES_URL` is set) and, where it needs
//! mail, a real SMTP server. One binary links once; the modules are the areas of the portal.
//! (`logs.rs` and `staff_signin_load.rs` stay binaries of their own: they observe the whole
//! process, its global log subscriber and its memory.)

mod support;

mod api;
mod audit;
mod backup;
mod cli;
mod consents;
mod dashboard;
mod erasure;
mod export;
mod foundation;
mod http_edges;
mod mail;
mod my_data;
mod photos;
mod requests;
mod retention;
mod sealed;
mod sessions;
mod signin_pages;
mod signin_request;
mod signin_timing;
mod signin_tokens;
mod staff_area;
mod staff_signin;
mod staff_signin_timing;
