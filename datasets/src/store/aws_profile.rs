//! Static credentials and region of an AWS CLI profile: `AWS_PROFILE`
//! (default `default`) from `~/.aws/credentials` (`AWS_SHARED_CREDENTIALS_FILE`)
//! and `~/.aws/config` (`AWS_CONFIG_FILE`), as the AWS CLI reads them.
//! `object_store` reads environment variables and instance credentials
//! but not these files.

use std::collections::HashMap;
use std::path::PathBuf;

/// What a profile gives.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Profile {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
}

/// `section → key → value` of an INI text.
fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    out
}

fn home_file(env: &str, default: &str) -> Option<PathBuf> {
    std::env::var_os(env)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(default)))
}

/// The profile's settings from the given file texts.
pub fn profile_from(name: &str, credentials: &str, config: &str) -> Profile {
    let creds = parse_ini(credentials);
    let conf = parse_ini(config);
    let c = creds.get(name);
    let f = conf
        .get(&format!("profile {name}"))
        .or_else(|| (name == "default").then(|| conf.get("default")).flatten());
    let get = |key: &str| {
        c.and_then(|s| s.get(key))
            .or_else(|| f.and_then(|s| s.get(key)))
            .cloned()
    };
    Profile {
        access_key_id: get("aws_access_key_id"),
        secret_access_key: get("aws_secret_access_key"),
        session_token: get("aws_session_token"),
        region: f.and_then(|s| s.get("region")).cloned(),
    }
}

/// The active profile, when either file exists.
pub fn credentials() -> Option<Profile> {
    let name = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let read = |p: Option<PathBuf>| p.and_then(|p| std::fs::read_to_string(p).ok());
    let creds = read(home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"));
    let config = read(home_file("AWS_CONFIG_FILE", ".aws/config"));
    if creds.is_none() && config.is_none() {
        return None;
    }
    Some(profile_from(
        &name,
        creds.as_deref().unwrap_or(""),
        config.as_deref().unwrap_or(""),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_profile_from_both_files() {
        let creds = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n[dev]\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token=T\n";
        let config = "[default]\nregion = eu-west-1\n[profile dev]\nregion = us-west-2\n";
        assert_eq!(
            profile_from("dev", creds, config),
            Profile {
                access_key_id: Some("C".into()),
                secret_access_key: Some("D".into()),
                session_token: Some("T".into()),
                region: Some("us-west-2".into()),
            }
        );
        let d = profile_from("default", creds, config);
        assert_eq!(d.access_key_id.as_deref(), Some("A"));
        assert_eq!(d.region.as_deref(), Some("eu-west-1"));
        assert_eq!(profile_from("none", creds, config), Profile::default());
    }
}
