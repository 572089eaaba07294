//! The cluster's shared-secret token (`--auth-token-file`): who may talk to a scheduler or an
//! executor.
//!
//! Every process of a cluster and every client is given the same secret. A request carries it
//! in one of two headers:
//!
//! - `authorization: Bearer TOKEN`, the standard form: Flight SQL clients (ADBC's
//!   `adbc.flight.sql.authorization_header`) and `tickflow --cluster`'s calls to the scheduler
//!   (Ballista's gRPC metadata interceptor) send it; or `authorization: Basic` with the token as
//!   the password, how a Flight SQL client authenticates its handshake (ADBC's `username` /
//!   `password`), after which it sends the session token the handshake returned
//!   ([`crate::scheduler_service`]);
//! - a `user-agent` product `tickflow-auth/TOKEN`: the connections Ballista 55 opens itself
//!   (executor → scheduler, scheduler → executor, executor → executor shuffle fetches, a
//!   client fetching results from an executor) can only be customized through
//!   `override_create_grpc_client_endpoint`, whose one header is the user agent
//!   ([`client_endpoint`]).
//!
//! A server with a token refuses every other request with `Unauthenticated` ([`check`]): the
//! scheduler's gRPC, Flight SQL and REST services ([`crate::scheduler_service`]; its `/healthz`
//! and `/readyz` probes stay open) and the executors' Flight service
//! ([`crate::partition_flight`]). The token is compared in constant time and never printed
//! (`Debug` shows `AuthToken(<redacted>)`). It travels in clear text unless the network is
//! trusted or tunnelled: the README's Security section says so.

use std::path::Path;
use std::sync::Arc;

use tonic::Status;
use tonic::transport::Endpoint;

/// The user-agent product that carries the token.
const AGENT_PRODUCT: &str = "tickflow-auth/";

/// Shortest token accepted: 16 visible characters (`openssl rand -hex 32` gives 64).
pub const MIN_TOKEN_LEN: usize = 16;

/// Why a token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file cannot be read.
    #[error("--auth-token-file {path}: cannot read it: {source}")]
    Read {
        /// The file named.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file's content is not a usable token.
    #[error("--auth-token-file {path}: {why}")]
    Invalid {
        /// The file named.
        path: String,
        /// What is wrong with it.
        why: String,
    },
}

/// The cluster's shared secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(Arc<str>);

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

impl AuthToken {
    /// The token in the file at `path`: its one line, without surrounding whitespace.
    pub fn read(path: &Path) -> Result<AuthToken, TokenError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: shown.clone(),
            source,
        })?;
        AuthToken::new(text.trim()).map_err(|why| TokenError::Invalid { path: shown, why })
    }

    /// `token` checked: at least [`MIN_TOKEN_LEN`] visible ASCII characters, no spaces (it
    /// travels in HTTP headers).
    pub fn new(token: &str) -> Result<AuthToken, String> {
        if let Some((at, c)) = token.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
            return Err(format!(
                "the token must be one line of visible ASCII characters without spaces; \
                 character {} is {c:?}",
                at + 1
            ));
        }
        if token.len() < MIN_TOKEN_LEN {
            return Err(format!(
                "the token has {} characters, fewer than {MIN_TOKEN_LEN} (make one with \
                 `openssl rand -hex 32`)",
                token.len()
            ));
        }
        Ok(AuthToken(token.into()))
    }

    /// The `authorization` header value: `Bearer TOKEN`.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// A user agent `PRODUCT tickflow-auth/TOKEN` (see the module doc).
    pub fn user_agent(&self, product: &str) -> String {
        format!("{product} {AGENT_PRODUCT}{}", self.0)
    }

    /// Whether the headers of a request carry this token.
    pub fn accepts(&self, authorization: Option<&[u8]>, user_agent: Option<&[u8]>) -> bool {
        let bearer = authorization.and_then(|value| {
            let value = std::str::from_utf8(value).ok()?;
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        });
        if bearer.is_some_and(|token| self.equals(token)) {
            return true;
        }
        if authorization
            .and_then(basic_password)
            .is_some_and(|password| self.equals(&password))
        {
            return true;
        }
        let agent = user_agent.and_then(|value| std::str::from_utf8(value).ok());
        agent.is_some_and(|agent| {
            agent
                .split(' ')
                .filter_map(|product| product.strip_prefix(AGENT_PRODUCT))
                .any(|token| self.equals(token))
        })
    }

    /// Compares in time independent of where `other` differs.
    fn equals(&self, other: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), other.as_bytes());
        let mut diff = a.len() ^ b.len();
        for (i, x) in a.iter().enumerate() {
            diff |= usize::from(x ^ b.get(i).copied().unwrap_or(!x));
        }
        diff == 0
    }

    /// Whether `authorization` is exactly this token's `Bearer` value.
    pub fn is_bearer(&self, authorization: &[u8]) -> bool {
        std::str::from_utf8(authorization)
            .ok()
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(scheme, token)| {
                scheme.eq_ignore_ascii_case("bearer") && self.equals(token)
            })
    }
}

/// The password of an `authorization: Basic base64(user:password)` header (how Flight SQL
/// clients authenticate their handshake: ADBC's `username` / `password`).
fn basic_password(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    decoded
        .split_once(':')
        .map(|(_, password)| password.to_string())
}

/// Standard base64 with padding (RFC 4648), as HTTP Basic credentials are encoded.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let [_, a, b, c] = n.to_be_bytes();
        match chunk.len() {
            4 => out.extend([a, b, c]),
            3 => out.extend([a, b]),
            2 => out.push(a),
            _ => return None,
        }
    }
    Some(out)
}

/// The refusal of a request without the token.
pub fn refusal() -> Status {
    Status::unauthenticated(
        "this tickflow cluster requires its token: pass --auth-token-file (tickflow, \
         tickflow-executor) or the header `authorization: Bearer TOKEN` (Flight SQL clients)",
    )
}

/// Checks a gRPC request's metadata against `token` (none: every request passes).
pub fn check(
    token: Option<&AuthToken>,
    metadata: &tonic::metadata::MetadataMap,
) -> Result<(), Status> {
    let Some(token) = token else {
        return Ok(());
    };
    let header = |name: &str| metadata.get(name).map(|v| v.as_bytes());
    if token.accepts(header("authorization"), header("user-agent")) {
        Ok(())
    } else {
        Err(refusal())
    }
}

/// A gRPC client endpoint of a tickflow process: user agent `product`, followed by the token's
/// product when there is a token.
pub fn client_endpoint(
    endpoint: Endpoint,
    product: &str,
    token: Option<&AuthToken>,
) -> Result<Endpoint, Box<dyn std::error::Error + Send + Sync>> {
    let agent = match token {
        Some(token) => token.user_agent(product),
        None => product.to_string(),
    };
    Ok(endpoint.user_agent(agent)?)
}

/// Ballista's `EndpointOverrideFn` for a process's connections (see [`client_endpoint`]).
pub fn endpoint_override(
    product: &'static str,
    token: Option<AuthToken>,
) -> ballista_core::extension::EndpointOverrideFn {
    Arc::new(move |endpoint| client_endpoint(endpoint, product, token.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> AuthToken {
        AuthToken::new("0123456789abcdef-secret").expect("a valid token")
    }

    #[test]
    fn the_token_is_accepted_only_whole() {
        let t = token();
        assert!(t.accepts(Some(b"Bearer 0123456789abcdef-secret"), None));
        assert!(t.accepts(Some(b"bearer 0123456789abcdef-secret"), None));
        assert!(!t.accepts(Some(b"Bearer 0123456789abcdef-secreT"), None));
        assert!(!t.accepts(Some(b"Bearer 0123456789abcdef-secret2"), None));
        assert!(!t.accepts(Some(b"Bearer 0123456789abcdef"), None));
        assert!(!t.accepts(Some(b"Basic 0123456789abcdef-secret"), None));
        assert!(!t.accepts(None, None));
        assert!(t.accepts(
            None,
            Some(b"tickflow-scheduler tickflow-auth/0123456789abcdef-secret tonic/0.14.9")
        ));
        assert!(!t.accepts(None, Some(b"tickflow-scheduler tonic/0.14.9")));
        assert!(!t.accepts(None, Some(b"tickflow-auth/wrong-wrong-wrong-wrong")));
        // Basic credentials with the token as the password: base64("me:0123456789abcdef-secret").
        assert!(t.accepts(Some(b"Basic bWU6MDEyMzQ1Njc4OWFiY2RlZi1zZWNyZXQ="), None));
        // base64("me:wrong")
        assert!(!t.accepts(Some(b"Basic bWU6d3Jvbmc="), None));
        assert_eq!(base64_decode("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode("YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(base64_decode("YWJj").as_deref(), Some(&b"abc"[..]));
        assert_eq!(base64_decode("Y*=="), None);
    }

    #[test]
    fn bad_tokens_are_refused_with_the_reason() {
        assert!(
            AuthToken::new("short")
                .expect_err("short")
                .contains("fewer than 16")
        );
        assert!(
            AuthToken::new("has a space in it, long enough")
                .expect_err("space")
                .contains("character 4")
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("token");
        std::fs::write(&path, "0123456789abcdef-secret\n").expect("write");
        assert_eq!(AuthToken::read(&path).expect("trimmed"), token());
        let missing = dir.path().join("none");
        let err = AuthToken::read(&missing).expect_err("missing").to_string();
        assert!(
            err.contains("--auth-token-file") && err.contains("none"),
            "{err}"
        );
        assert_eq!(format!("{:?}", token()), "AuthToken(<redacted>)");
    }
}
