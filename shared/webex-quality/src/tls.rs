//! The TLS stack's crypto provider, installed once for every HTTP client (Webex, the Parameters
//! and Secrets extension).

/// Makes rustls's crypto provider the process default, once: aws-lc-rs in builds with the `s3`
/// feature (the AWS SDK brings it anyway), ring otherwise (the CLI: it builds in a fraction of the
/// time). A provider someone else installed first is kept.
pub fn install_crypto_provider() {
    #[cfg(feature = "s3")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "s3")))]
    let provider = rustls::crypto::ring::default_provider();
    // An error only says that a provider is installed already.
    let _ = provider.install_default();
}

#[cfg(not(any(feature = "ring", feature = "s3")))]
compile_error!(
    "webex-quality needs a TLS crypto provider: enable its `ring` feature (the CLI) or `s3` (the Lambda functions, with aws-lc-rs)"
);
