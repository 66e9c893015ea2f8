//! The collection cycle against the simulator, by what it must survive: a simulated week at Webex's
//! own pace (`week`), cycles racing each other (`races`), crashes and failed uploads (`failures`),
//! and tokens refreshed, rotated, revoked and cut short (`tokens`). The week runs on the one-machine
//! product's folder store; the rest on a real S3-compatible server (the store the Lambda functions
//! use).

mod failures;
mod races;
mod tokens;
mod week;
