//! The error type of server functions: what the page may know, never the cause.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// What went wrong, as far as the visitor is concerned. Causes are logged on the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PortalError {
    /// The thing does not exist (or this visitor may not know it does).
    #[error("not found")]
    NotFound,
    /// The page needs a signed-in customer (the server also answers with a redirect).
    #[error("sign-in required")]
    SignInRequired,
    /// Signed in, but the role may not do this (the server refuses; the page says so).
    #[error("forbidden")]
    Forbidden,
    /// Input the person can correct; the payload is a message key.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// Anything else: a database or internal failure.
    #[error("internal error")]
    Internal,
}

impl FromServerFnError for PortalError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(_: ServerFnErrorErr) -> Self {
        PortalError::Internal
    }
}

#[cfg(feature = "ssr")]
impl From<portal_core::CoreError> for PortalError {
    fn from(e: portal_core::CoreError) -> Self {
        match e {
            portal_core::CoreError::NotFound => PortalError::NotFound,
            portal_core::CoreError::Invalid(key) => PortalError::Invalid(key.to_owned()),
            other => {
                tracing::error!(error = %other, "request failed");
                PortalError::Internal
            }
        }
    }
}
