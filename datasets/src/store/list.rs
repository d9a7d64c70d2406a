//! Object-store inputs as files: a URL naming one object, a prefix (every
//! data object beneath it, like a directory) or a glob on keys
//! (`gs://b/export/file-*.avro`), found by listing, sorted by key. Keys
//! with a hidden or bookkeeping component (`.x`, `_x`: `_SUCCESS`,
//! `.weir-staging/`) are not data.

use std::path::PathBuf;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStoreExt};

use super::{block_on, list_under, parse, raw_key, store_error, ObjectUrl};
use crate::error::{DatasetError, Result};
use crate::input::{is_data_name, InputFile};

/// Every object under `prefix` of `obj`'s bucket.
fn list_all(obj: &ObjectUrl, prefix: &str) -> Result<Vec<ObjectMeta>> {
    let (store, prefix) = (obj.store.clone(), ObjectPath::from(prefix));
    block_on(async move { list_under(store.as_ref(), &prefix).await })
        .map_err(|e| store_error(&obj.url(), e))
}

/// Whether every component of the relative key `rel` names data (the
/// local rule of [`is_data_name`], per component).
fn is_data_key(rel: &str) -> bool {
    rel.split('/').all(is_data_name)
}

fn input_file(obj: &ObjectUrl, m: &ObjectMeta) -> InputFile {
    InputFile {
        path: PathBuf::from(format!("{}/{}", obj.root, m.location)),
        size: m.size,
        etag: m.e_tag.clone(),
    }
}

/// Resolves an object-store input `spec` to objects sorted by key.
pub fn resolve_url(spec: &str) -> Result<Vec<InputFile>> {
    let obj = parse(spec)?;
    let written = raw_key(spec)?;
    let glob_at = written.find(['*', '?', '[']);
    let key = match glob_at {
        Some(_) => written.to_string(),
        None => obj.key.as_ref().to_string(),
    };
    let mut files = match glob_at {
        Some(at) => {
            let pattern = glob::Pattern::new(&key)
                .map_err(|e| DatasetError::Invalid(format!("bad input pattern '{spec}': {e}")))?;
            let dir = key[..at].rfind('/').map(|i| &key[..i]).unwrap_or("");
            let metas = list_all(&obj, dir)?;
            let options = glob::MatchOptions {
                require_literal_separator: true,
                ..Default::default()
            };
            metas
                .iter()
                .filter(|m| pattern.matches_with(m.location.as_ref(), options))
                .filter(|m| is_data_key(m.location.filename().unwrap_or("")))
                .map(|m| input_file(&obj, m))
                .collect::<Vec<_>>()
        }
        None => {
            let o = obj.clone();
            let k = obj.key.clone();
            let single = block_on(async move { o.store.head(&k).await });
            match single {
                Ok(m) if !key.is_empty() => vec![input_file(&obj, &m)],
                Ok(_) | Err(object_store::Error::NotFound { .. }) => list_all(&obj, &key)?
                    .iter()
                    .filter(|m| {
                        let rel = m.location.as_ref()[key.len()..].trim_start_matches('/');
                        is_data_key(rel)
                    })
                    .map(|m| input_file(&obj, m))
                    .collect(),
                Err(e) => return Err(store_error(spec, e)),
            }
        }
    };
    files.sort_by(|a, b| a.path.cmp(&b.path));
    if files.is_empty() {
        return Err(DatasetError::Invalid(format!(
            "no input objects match '{spec}'"
        )));
    }
    Ok(files)
}

/// The folders directly under an object-store prefix (`Split-train`, …),
/// as `(folder name, URL)`, sorted; hidden and bookkeeping ones skipped.
pub fn child_folders(spec: &str) -> Result<Vec<(String, String)>> {
    let obj = parse(spec)?;
    let o = obj.clone();
    let listed = block_on(async move {
        let prefix = (!o.key.as_ref().is_empty()).then_some(&o.key);
        super::idempotent(|| o.store.list_with_delimiter(prefix)).await
    })
    .map_err(|e| store_error(spec, e))?;
    let mut out: Vec<(String, String)> = listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(|n| (n.to_string(), p)))
        .filter(|(n, _)| is_data_key(n))
        .map(|(n, p)| (n, format!("{}/{}", obj.root, p)))
        .collect();
    out.sort();
    Ok(out)
}
