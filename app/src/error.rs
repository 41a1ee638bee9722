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
    /// The request itself could not be read: missing or undecodable arguments, a body that is
    /// not valid UTF-8, a form sent in another encoding.
    #[error("bad request")]
    BadRequest,
    /// The request body is larger than the portal takes.
    #[error("request too large")]
    TooLarge,
    /// Anything else: a database or internal failure.
    #[error("internal error")]
    Internal,
}

impl PortalError {
    /// The HTTP status this error answers with: the caller's own mistakes are 4xx, and only the
    /// portal's own faults are 500, so that monitoring counts only those.
    pub fn status(&self) -> u16 {
        match self {
            PortalError::BadRequest => 400,
            PortalError::SignInRequired => 401,
            PortalError::Forbidden => 403,
            PortalError::NotFound => 404,
            PortalError::TooLarge => 413,
            PortalError::Invalid(_) => 422,
            PortalError::Internal => 500,
        }
    }
}

impl FromServerFnError for PortalError {
    type Encoder = JsonEncoding;

    /// Sorts the framework's own failures: what the caller sent wrong is a bad request; the
    /// rest (serialising our answer, a failed fetch in the browser) is ours.
    fn from_server_fn_error(e: ServerFnErrorErr) -> Self {
        match e {
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::UnsupportedRequestMethod(_) => PortalError::BadRequest,
            ServerFnErrorErr::Registration(_) => PortalError::NotFound,
            ServerFnErrorErr::Request(_)
            | ServerFnErrorErr::ServerError(_)
            | ServerFnErrorErr::MiddlewareError(_)
            | ServerFnErrorErr::Serialization(_)
            | ServerFnErrorErr::Response(_) => PortalError::Internal,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<portal_core::CoreError> for PortalError {
    fn from(e: portal_core::CoreError) -> Self {
        match e {
            portal_core::CoreError::NotFound => PortalError::NotFound,
            portal_core::CoreError::Invalid(key) => PortalError::Invalid(key.to_owned()),
            portal_core::CoreError::Refused(r) => PortalError::Invalid(r.key().to_owned()),
            other => {
                tracing::error!(error = %other, "request failed");
                PortalError::Internal
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_portals_own_faults_answer_500() {
        let caller = [
            (
                PortalError::from_server_fn_error(ServerFnErrorErr::Args("x".into())),
                400,
            ),
            (
                PortalError::from_server_fn_error(ServerFnErrorErr::MissingArg("x".into())),
                400,
            ),
            (
                PortalError::from_server_fn_error(ServerFnErrorErr::Deserialization("x".into())),
                400,
            ),
            (PortalError::SignInRequired, 401),
            (PortalError::Forbidden, 403),
            (PortalError::NotFound, 404),
            (PortalError::TooLarge, 413),
            (PortalError::Invalid("key".into()), 422),
        ];
        for (e, status) in caller {
            assert_eq!(e.status(), status, "{e:?}");
        }
        let ours = PortalError::from_server_fn_error(ServerFnErrorErr::Serialization("x".into()));
        assert_eq!(ours.status(), 500);
    }
}
