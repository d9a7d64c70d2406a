//! The feature types a schema file declares, which reading data needs:
//! a tensorflow-metadata `schema.pbtxt` (through `weir-tfmd`'s text
//! format) or a BigQuery JSON schema.

pub mod bigquery;

use std::collections::HashMap;
use std::path::Path;

use crate::error::{DatasetError, Result};
use weir_tfmd::pbtxt;
use weir_tfmd::FeatureType;

/// The feature types a schema file declares, by feature name: a
/// tensorflow-metadata `schema.pbtxt`, or a BigQuery JSON schema (see
/// [`bigquery`]) when the file is JSON.
pub fn declared_types(path: &Path) -> Result<HashMap<String, FeatureType>> {
    let text = std::fs::read_to_string(path).map_err(|e| DatasetError::io(path, e))?;
    if text.trim_start().starts_with(['[', '{']) {
        return bigquery::declared_types(path, &text);
    }
    let msg = pbtxt::parse(&text)
        .map_err(|e| DatasetError::file(path, format!("not a text-format Schema: {e}")))?;
    let mut out = HashMap::new();
    for f in msg.messages("feature") {
        let name = f
            .get_str("name")
            .ok_or_else(|| DatasetError::file(path, "a feature has no name"))?;
        let ty = match f.get_ident("type").map(|t| (t, FeatureType::parse(t))) {
            None => FeatureType::Unknown,
            Some((_, Some(FeatureType::Struct))) => {
                return Err(DatasetError::file(
                    path,
                    format!("feature '{name}': STRUCT features are not supported"),
                ))
            }
            Some((_, Some(ty))) => ty,
            Some((other, None)) => {
                return Err(DatasetError::file(
                    path,
                    format!("feature '{name}': unknown type {other}"),
                ))
            }
        };
        if out.insert(name.clone(), ty).is_some() {
            return Err(DatasetError::file(
                path,
                format!("feature '{name}' is declared twice"),
            ));
        }
    }
    if out.is_empty() {
        return Err(DatasetError::file(path, "schema declares no features"));
    }
    Ok(out)
}
