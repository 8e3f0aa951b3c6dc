//! The command-line tools besides `serve` and `kms`: `cp` (with client-side encryption,
//! [`cse`]), `demo`, `inspect`, `audit` and the
//! `kms` admin commands ([`kms_admin`]), and the [`client`]s they use to reach a running
//! gateway. They sit on top of the rest of sealgate; nothing outside `tools` and `cli`
//! depends on them.

pub(crate) mod audit;
pub(crate) mod client;
pub(crate) mod cp;
pub(crate) mod cse;
pub(crate) mod demo;
pub(crate) mod inspect;
pub(crate) mod kms_admin;
