//! Argus 3 flow sensor library: capture sources, packet decoding, the flow engine, the Argus 3
//! record codec and the client-side printing used by `ra`.
pub mod addrlist;
pub mod aggregate;
pub mod capture;
pub mod cli;
pub mod client;
pub mod collect;
pub mod config;
pub mod correlate;
pub mod engine;
pub mod event;
pub mod filter;
pub mod flow;
pub mod gen;
mod index;
pub mod output;
mod prefetch;
pub mod print;
#[cfg(target_os = "linux")]
pub mod privs;
pub mod record;
pub mod server;
pub mod sort;
pub mod split;
pub mod sql;
pub mod wire;
