//! BigQuery table schemas as JSON (`bq show --schema`, the `schema` of
//! `bq show --format=json`, or `{"fields": [...]}`), read as the feature
//! types a user schema declares. The kinds follow TFX's BigQueryExampleGen
//! (INTEGER → INT, FLOAT → FLOAT, STRING → BYTES). Types whose form
//! depends on the export format are left to the file: DATE, DATETIME, TIME
//! and TIMESTAMP are integers in Avro and Parquet exports but text in CSV
//! and JSON ones; BOOLEAN is 0/1 where the file has booleans (Avro,
//! Parquet, JSON) and text in CSV; NUMERIC / BIGNUMERIC follow
//! `--decimals`.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{DatasetError, Result};
use crate::example::FeatureType;

/// The kind BigQuery type `ty` declares, or an error for types with no
/// tf.Example form.
fn kind_of(name: &str, ty: &str) -> std::result::Result<FeatureType, String> {
    Ok(match ty.to_ascii_uppercase().as_str() {
        "INTEGER" | "INT64" => FeatureType::Int,
        "FLOAT" | "FLOAT64" => FeatureType::Float,
        "STRING" | "BYTES" | "GEOGRAPHY" | "JSON" => FeatureType::Bytes,
        "NUMERIC" | "BIGNUMERIC" | "DECIMAL" | "BIGDECIMAL" | "DATE" | "DATETIME" | "TIME"
        | "TIMESTAMP" | "BOOLEAN" | "BOOL" => FeatureType::Unknown,
        "RECORD" | "STRUCT" => {
            return Err(format!(
                "field '{name}': RECORD/STRUCT fields have no tf.Example form"
            ))
        }
        other => return Err(format!("field '{name}': unknown BigQuery type {other}")),
    })
}

/// Parses a BigQuery JSON schema.
pub fn declared_types(path: &Path, text: &str) -> Result<HashMap<String, FeatureType>> {
    let bad = |m: String| DatasetError::file(path, m);
    let doc: Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not a BigQuery JSON schema: {e}")))?;
    let fields = match &doc {
        Value::Array(a) => a,
        Value::Object(o) => o
            .get("fields")
            .or_else(|| o.get("schema").and_then(|s| s.get("fields")))
            .and_then(Value::as_array)
            .ok_or_else(|| bad("a BigQuery schema object needs \"fields\"".into()))?,
        _ => return Err(bad("a BigQuery schema is a list of fields".into())),
    };
    let mut out = HashMap::new();
    for (i, f) in fields.iter().enumerate() {
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("field {i} has no \"name\"")))?;
        let ty = f
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("field '{name}' has no \"type\"")))?;
        out.insert(name.to_string(), kind_of(name, ty).map_err(bad)?);
    }
    if out.is_empty() {
        return Err(bad("schema declares no fields".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bq_show_schema_and_table_resource() {
        let list = r#"[{"name":"id","type":"INTEGER","mode":"REQUIRED"},
            {"name":"fare","type":"FLOAT64"},{"name":"tags","type":"STRING","mode":"REPEATED"},
            {"name":"price","type":"NUMERIC"},{"name":"ok","type":"BOOLEAN"}]"#;
        let d = declared_types(Path::new("s.json"), list).unwrap();
        assert_eq!(d["id"], FeatureType::Int);
        assert_eq!(d["fare"], FeatureType::Float);
        assert_eq!(d["tags"], FeatureType::Bytes);
        assert_eq!(d["price"], FeatureType::Unknown);
        assert_eq!(d["ok"], FeatureType::Unknown);
        let table = r#"{"schema":{"fields":[{"name":"id","type":"INT64"}]}}"#;
        let d = declared_types(Path::new("t.json"), table).unwrap();
        assert_eq!(d["id"], FeatureType::Int);
    }

    #[test]
    fn record_fields_are_refused_by_name() {
        let e = declared_types(
            Path::new("s.json"),
            r#"[{"name":"addr","type":"RECORD","fields":[]}]"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("s.json") && e.contains("addr"), "{e}");
    }
}
