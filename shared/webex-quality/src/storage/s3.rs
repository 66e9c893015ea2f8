//! The S3 adapter: `aws-sdk-s3` with S3's conditional writes (`If-Match`, `If-None-Match: *`) and
//! conditional reads (`If-None-Match`). Works with S3-compatible servers through the SDK's own
//! `AWS_ENDPOINT_URL` and `WEBEX_QUALITY_S3_FORCE_PATH_STYLE=true`.
//!
//! S3 answers a failed condition with 412, and sometimes with 409 (`ConditionalRequestConflict`) when
//! two conditional writes race: both are [`StoreError::PreconditionFailed`].

use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};

use super::{
    ETag, Fetched, FetchedFile, Object, ObjectStore, PutCondition, SiteFile, StoreError, check_key,
};

/// Objects in an S3 bucket under a prefix.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    /// A store over `client`.
    #[must_use]
    pub fn new(client: Client, bucket: &str, prefix: &str) -> Self {
        Self {
            client,
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        }
    }

    /// A store configured from the environment the AWS SDK reads (region, credentials,
    /// `AWS_ENDPOINT_URL`); `path_style` for S3-compatible servers
    /// ([`crate::config::s3_setting`]).
    pub async fn from_env(bucket: &str, prefix: &str, path_style: bool) -> Self {
        let shared = aws_config::load_from_env().await;
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(path_style)
            .timeout_config(timeouts())
            .build();
        Self::new(Client::from_conf(config), bucket, prefix)
    }

    fn full_key(&self, key: &str) -> Result<String, StoreError> {
        check_key(key)?;
        Ok(if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        })
    }
}

/// S3's timeouts: no operation may hang a cycle (the SDK's defaults set none but the connect
/// timeout). An attempt may take two minutes (a hot object of a few hundred megabytes, uploaded at a
/// few megabytes a second), the operation with its retries three; the first byte of an answer must
/// come within 30 s.
fn timeouts() -> aws_sdk_s3::config::timeout::TimeoutConfig {
    aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .read_timeout(std::time::Duration::from_secs(30))
        .operation_attempt_timeout(std::time::Duration::from_secs(120))
        .operation_timeout(std::time::Duration::from_secs(180))
        .build()
}

/// The longest wait for the next chunk of an object's body (downloads are streamed after the
/// operation's answer, outside its timeouts): a stalled download fails instead of hanging.
const BODY_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// Dashboard uploads kept in flight at once ([`ObjectStore::publish_all`]): enough to hide the
/// round trips, few enough for a small Lambda's connections and memory (the bytes are already
/// held).
const UPLOADS_IN_FLIGHT: usize = 8;

/// The next chunk of `body`, or an error when it stalls for [`BODY_STALL`].
async fn next_chunk(body: &mut ByteStream) -> Result<Option<Bytes>, String> {
    match tokio::time::timeout(BODY_STALL, body.try_next()).await {
        Ok(chunk) => chunk.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "the download stalled: no data for {} s",
            BODY_STALL.as_secs()
        )),
    }
}

fn status<E, R: HasStatus>(error: &SdkError<E, R>) -> Option<u16> {
    error.raw_response().map(HasStatus::status_code)
}

trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

fn describe<E: std::error::Error + 'static, R: std::fmt::Debug>(error: &SdkError<E, R>) -> String {
    clipped(
        aws_sdk_s3::error::DisplayErrorContext(error).to_string(),
        500,
    )
}

/// `text` cut to at most `max` bytes, at a character boundary (an error text may hold any
/// character, and `String::truncate` panics inside one).
fn clipped(mut text: String, max: usize) -> String {
    text.truncate(text.floor_char_boundary(max));
    text
}

/// What a get found, its body not read yet.
enum Opened {
    NotFound,
    NotModified,
    Found(ETag, ByteStream),
}

impl S3Store {
    /// Sends a get of the full key `full` (conditional with `if_none_match`).
    async fn open(&self, full: &str, if_none_match: Option<&ETag>) -> Result<Opened, StoreError> {
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(full)
            .set_if_none_match(if_none_match.map(|e| e.0.clone()))
            .send()
            .await;
        match answer {
            Ok(output) => Ok(Opened::Found(
                ETag(output.e_tag().unwrap_or_default().to_owned()),
                output.body,
            )),
            Err(error) => match status(&error) {
                Some(304) => Ok(Opened::NotModified),
                Some(404) => Ok(Opened::NotFound),
                _ => Err(StoreError::backend("get", full, describe(&error))),
            },
        }
    }

    /// Puts `body` at `key` (`full` with the prefix) with its content type, and its
    /// `Cache-Control` when it is a file of the site, if `condition` holds; a refused condition
    /// (412, or 409 when two writes race) is [`StoreError::PreconditionFailed`].
    async fn send_put(
        &self,
        (key, full): (&str, &str),
        body: ByteStream,
        (content_type, cache_control): (&str, Option<&str>),
        condition: PutCondition,
    ) -> Result<ETag, StoreError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(full)
            .content_type(content_type)
            .set_cache_control(cache_control.map(str::to_owned))
            .body(body);
        let request = match condition {
            PutCondition::Always => request,
            PutCondition::IfMatch(etag) => request.if_match(etag.0),
            PutCondition::IfAbsent => request.if_none_match("*"),
        };
        match request.send().await {
            Ok(output) => Ok(ETag(output.e_tag().unwrap_or_default().to_owned())),
            Err(error) => match status(&error) {
                Some(412 | 409) => Err(StoreError::PreconditionFailed {
                    key: key.to_owned(),
                }),
                _ => Err(StoreError::backend("put", full, describe(&error))),
            },
        }
    }
}

/// The file at `path` as the body of a put (`operation`) at `full`: streamed, the SDK reads it in
/// chunks, never whole in memory.
async fn file_body(
    full: &str,
    operation: &'static str,
    path: &std::path::Path,
) -> Result<ByteStream, StoreError> {
    ByteStream::from_path(path)
        .await
        .map_err(|e| StoreError::backend(operation, full, format!("{}: {e}", path.display())))
}

#[async_trait::async_trait]
impl ObjectStore for S3Store {
    async fn get(&self, key: &str, if_none_match: Option<&ETag>) -> Result<Fetched, StoreError> {
        let full = self.full_key(key)?;
        match self.open(&full, if_none_match).await? {
            Opened::NotFound => Ok(Fetched::NotFound),
            Opened::NotModified => Ok(Fetched::NotModified),
            Opened::Found(etag, body) => {
                // Small objects (status, tokens, lease, manifest), read whole within the stall limit.
                let bytes = tokio::time::timeout(BODY_STALL, body.collect())
                    .await
                    .map_err(|_| {
                        StoreError::backend(
                            "get",
                            &full,
                            format!(
                                "the download stalled: not read within {} s",
                                BODY_STALL.as_secs()
                            ),
                        )
                    })?
                    .map_err(|e| StoreError::backend("get", &full, e))?
                    .into_bytes();
                Ok(Fetched::Found(Object { bytes, etag }))
            }
        }
    }

    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        condition: PutCondition,
        content_type: &str,
    ) -> Result<ETag, StoreError> {
        let full = self.full_key(key)?;
        let body = ByteStream::from(bytes);
        self.send_put((key, &full), body, (content_type, None), condition)
            .await
    }

    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        condition: PutCondition,
        content_type: &str,
    ) -> Result<ETag, StoreError> {
        let full = self.full_key(key)?;
        let body = file_body(&full, "put", path).await?;
        self.send_put((key, &full), body, (content_type, None), condition)
            .await
    }

    async fn get_to_file(
        &self,
        key: &str,
        if_none_match: Option<&ETag>,
        path: &std::path::Path,
    ) -> Result<FetchedFile, StoreError> {
        let full = self.full_key(key)?;
        match self.open(&full, if_none_match).await? {
            Opened::NotFound => Ok(FetchedFile::NotFound),
            Opened::NotModified => Ok(FetchedFile::NotModified),
            Opened::Found(etag, mut body) => {
                let fail = |e: &dyn std::fmt::Display| {
                    StoreError::backend("get", &full, format!("{}: {e}", path.display()))
                };
                // Chunk by chunk into the file: the object is never whole in memory.
                let mut file = tokio::fs::File::from_std(
                    super::private::create_file(path).map_err(|e| fail(&e))?,
                );
                while let Some(chunk) = next_chunk(&mut body).await.map_err(|e| fail(&e))? {
                    tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                        .await
                        .map_err(|e| fail(&e))?;
                }
                tokio::io::AsyncWriteExt::flush(&mut file)
                    .await
                    .map_err(|e| fail(&e))?;
                Ok(FetchedFile::Found(etag))
            }
        }
    }

    async fn publish(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
        cache_control: &str,
        condition: PutCondition,
    ) -> Result<(), StoreError> {
        let full = self.full_key(key)?;
        let (body, metadata) = (ByteStream::from(bytes), (content_type, Some(cache_control)));
        self.send_put((key, &full), body, metadata, condition)
            .await
            .map(|_| ())
    }

    async fn publish_file(
        &self,
        key: &str,
        path: &std::path::Path,
        (content_type, cache_control): (&str, &str),
        condition: PutCondition,
    ) -> Result<(), StoreError> {
        let full = self.full_key(key)?;
        let body = file_body(&full, "publish", path).await?;
        let metadata = (content_type, Some(cache_control));
        self.send_put((key, &full), body, metadata, condition)
            .await
            .map(|_| ())
    }

    async fn publish_all(&self, files: Vec<SiteFile>) -> Result<(), StoreError> {
        // Several uploads in flight: a render's thousands of small files, one round trip each,
        // took most of its wall time (and the Lambda's bill) one after the other.
        futures_util::stream::iter(files)
            .map(|file| file.publish_to(self))
            .buffer_unordered(UPLOADS_IN_FLIGHT)
            .try_collect()
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let full = self.full_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| StoreError::backend("delete", &full, describe(&e)))?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let base = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{base}{prefix}"))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| StoreError::backend("list", prefix, describe(&e)))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter_map(|k| k.strip_prefix(&base))
                    .map(str::to_owned),
            );
        }
        keys.sort();
        Ok(keys)
    }

    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::clipped;

    #[test]
    fn an_error_text_is_clipped_at_a_character_boundary() {
        assert_eq!(clipped("short".into(), 500), "short");
        // 499 bytes, then a 3-byte character across the 500th byte: cut before it, no panic.
        let text = format!("{}€ and more", "a".repeat(499));
        let cut = clipped(text, 500);
        assert_eq!(cut.len(), 499);
        assert!(cut.chars().all(|c| c == 'a'));
    }
}
