//! End-to-end tests across the workspace's crates: one test binary, real HTTP between the parts, a
//! real S3-compatible server (moto) for storage.

mod alerts;
mod analytics;
mod cli;
mod collect;
mod faults;
mod helpers;
mod history;
mod hooked;
mod infra;
mod lambda;
mod login;
mod raw_bytes;
mod s3;
mod secrets;
mod signin;
mod sim_shapes;
mod site_browser;
mod site_offices;
mod site_pages;
mod site_publishing;
mod site_safety;
mod storage_contract;
mod structure;
mod webex_client;
mod webex_oauth;
mod webex_retries;
