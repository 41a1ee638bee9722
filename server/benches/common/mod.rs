//! What `make bench` (`http.rs`) and `make soak` (`soak.rs`) share: where things are, and wrk's
//! Lua scripts.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Cargo's target directory, where the release `portal` is.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Writes a wrk script named `name` into `dir`.
pub fn lua(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(body.as_bytes()))
        .expect("writes a wrk script");
    path
}

/// Quotes `s` as a Lua long string.
pub fn lua_str(s: &str) -> String {
    format!("[==[{s}]==]")
}
