//! `weir gc`: removes what killed runs left under an object-store output.

use anyhow::{bail, Result};
use clap::Args;
use weir_datasets::store::{self, publish};

/// `weir gc URL`.
#[derive(Args, Debug)]
pub struct GcArgs {
    /// An output URL (s3://bucket/prefix or gs://bucket/prefix)
    pub url: String,
}

/// Removes what killed runs left under an object-store output.
pub fn gc(a: GcArgs) -> Result<()> {
    if !store::is_url(&a.url) {
        bail!(
            "{}: weir gc collects object-store outputs; local outputs clean themselves up on the next run",
            a.url
        );
    }
    let target = store::parse(&a.url)?;
    let r = publish::gc(&target)?;
    println!(
        "gc {}: removed {} staging objects, {} objects of an uncommitted output{}",
        a.url,
        r.staging,
        r.orphans,
        if r.lock { ", a stale lock" } else { "" }
    );
    Ok(())
}
