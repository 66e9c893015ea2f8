//! Webex Quality's core: everything the Lambda functions, the CLI and the tests share.
//!
//! Each module is one room with one job (the module map: `docs/architecture.md`):
//! - [`config`]: typed settings read once at start, secrets in redacting types;
//! - [`clock`]: the time port, so tests and the simulator can drive time;
//! - [`webex`]: the Webex API client (OAuth, List Meetings, Meeting Qualities).
//!
//! Nothing here knows about Lambda: side effects come in as ports.

#![warn(missing_docs)]

pub mod alerts;
pub mod clock;
pub mod collect;
pub mod config;
pub mod db;
pub mod history;
pub mod login;
pub mod privacy;
pub mod quality;
pub mod site;
pub mod status;
pub mod storage;
pub mod tls;
pub mod tokens;
pub mod webex;
