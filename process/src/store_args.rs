//! Object-store flags shared by every weir process (`--s3-endpoint`, …,
//! each also an environment variable): the `weir` command, `weir-scheduler`
//! and `weir-executor` all reach stores the same way.

use clap::Args;
use weir_datasets::store::{self, StoreOptions};

/// How to reach S3-compatible and GCS stores. Credentials come from the
/// standard places: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
/// AWS_SESSION_TOKEN, the AWS_PROFILE of ~/.aws/credentials, instance and
/// web-identity credentials; GOOGLE_SERVICE_ACCOUNT or
/// GOOGLE_APPLICATION_CREDENTIALS files. They never appear in output.
#[derive(Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// S3 endpoint URL for S3-compatible stores (MinIO, Ceph, moto)
    #[arg(long, global = true, env = "WEIR_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// S3 region [default: AWS_REGION, the profile's, else us-east-1]
    #[arg(long, global = true, env = "WEIR_S3_REGION")]
    pub s3_region: Option<String>,
    /// Path-style S3 requests (endpoint/bucket/key), as most S3-compatible stores need
    #[arg(long, global = true, env = "WEIR_S3_PATH_STYLE")]
    pub s3_path_style: bool,
    /// Virtual-hosted S3 requests (bucket.endpoint/key)
    #[arg(
        long,
        global = true,
        env = "WEIR_S3_VIRTUAL_HOSTED",
        conflicts_with = "s3_path_style"
    )]
    pub s3_virtual_hosted: bool,
    /// Allow plain-HTTP endpoints (local test servers)
    #[arg(long, global = true, env = "WEIR_ALLOW_HTTP")]
    pub allow_http: bool,
    /// GCS JSON API base URL (an emulator such as fake-gcs-server)
    #[arg(long, global = true, env = "WEIR_GCS_ENDPOINT", value_name = "URL")]
    pub gcs_endpoint: Option<String>,
    /// GCS service-account key file
    #[arg(
        long,
        global = true,
        env = "WEIR_GCS_SERVICE_ACCOUNT",
        value_name = "FILE"
    )]
    pub gcs_service_account: Option<String>,
    /// Unsigned GCS requests (public buckets, emulators)
    #[arg(long, global = true, env = "WEIR_GCS_ANONYMOUS")]
    pub gcs_anonymous: bool,
}

impl StoreArgs {
    /// Hands the options to weir's object-store layer.
    pub fn configure(&self) {
        store::configure(StoreOptions {
            s3_endpoint: self.s3_endpoint.clone(),
            s3_region: self.s3_region.clone(),
            s3_path_style: match (self.s3_path_style, self.s3_virtual_hosted) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            allow_http: self.allow_http,
            gcs_endpoint: self.gcs_endpoint.clone(),
            gcs_service_account: self.gcs_service_account.clone(),
            gcs_anonymous: self.gcs_anonymous,
        });
    }
}
