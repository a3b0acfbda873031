//! Argus 3 flow sensor library: capture sources, packet decoding, the flow engine, the Argus 3
//! record codec and the client-side printing used by `ra`.
pub mod record;
