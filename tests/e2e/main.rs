//! End-to-end tests across the workspace's crates: one test binary, real HTTP between the parts.

mod helpers;
mod sim_shapes;
mod webex_client;
