//! The flags `tickflow-scheduler` and `tickflow-executor` add to Ballista's, and the secure
//! defaults they change in Ballista's.
//!
//! - `--bind-host` defaults to `127.0.0.1` (Ballista's is `0.0.0.0`): a cluster started as the
//!   README's quick start says is reachable from this machine only. Opening it is explicit:
//!   `--bind-host 0.0.0.0` (or an interface's address).
//! - `--auth-token-file FILE`: the cluster's shared secret ([`crate::auth`]).
//! - Serving on an address other than loopback without a token is refused unless
//!   `--allow-unauthenticated` says that the network is trusted.
//! - With a token, tasks are pulled by the executors (`pull-staged`): Ballista 55's push-staged
//!   executors serve a task-launch gRPC service that nothing can put a token check in front of,
//!   and pull-staged executors serve none (only the Flight service, which checks the token).

use std::net::IpAddr;
use std::path::PathBuf;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::error::{BallistaError, Result};
use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

use std::sync::Arc;

use crate::auth::AuthToken;
use crate::data_policy::DataPolicy;

/// What a server process enforces: the token its peers and clients must send, and the
/// locations it may read and write for them.
#[derive(Debug, Clone, Default)]
pub struct ServerSecurity {
    /// `--auth-token-file`'s token.
    pub token: Option<AuthToken>,
    /// `--allow-path` / `--allow-url` ([`crate::data_policy`]); `None`: every location.
    pub policy: Option<Arc<DataPolicy>>,
}

/// Ballista's id of the bind address flag, in both processes' `Config`.
const BIND_HOST: &str = "bind_host";

/// The security flags of both server processes.
#[derive(Debug, Clone, clap::Args)]
pub struct SecurityFlags {
    /// File holding the cluster's shared secret (one line, at least 16 visible characters; make
    /// one with `openssl rand -hex 32 > token`). Every scheduler, executor and client of the
    /// cluster must be given the same file; requests without it are refused (Unauthenticated)
    #[arg(long, value_name = "FILE", env = "TICKFLOW_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Serve without --auth-token-file on an address other than loopback: anyone who reaches
    /// the port can run any SQL, read and write files as this process. Only on a trusted network
    #[arg(long)]
    pub allow_unauthenticated: bool,
}

impl SecurityFlags {
    /// The token of `--auth-token-file`, if given.
    pub fn token(&self) -> Result<Option<AuthToken>> {
        self.auth_token_file
            .as_deref()
            .map(AuthToken::read)
            .transpose()
            .map_err(|e| BallistaError::Configuration(e.to_string()))
    }

    /// Refuses to serve on `bind_host` without a token unless it is a loopback address or
    /// `--allow-unauthenticated` was given.
    pub fn check_bind(&self, bind_host: &str, token: Option<&AuthToken>) -> Result<()> {
        if token.is_some() || self.allow_unauthenticated || is_loopback(bind_host) {
            return Ok(());
        }
        Err(BallistaError::Configuration(format!(
            "--bind-host {bind_host} would let anyone on the network run SQL with this \
             process's file and cloud access: pass --auth-token-file FILE (and give the same \
             file to every process and client of the cluster), or --allow-unauthenticated if \
             the network is trusted"
        )))
    }
}

/// Whether `host` names this machine only.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Ballista's command `cmd` with tickflow's defaults: `--bind-host 127.0.0.1`.
pub fn with_secure_defaults(cmd: Command) -> Command {
    cmd.mut_arg(BIND_HOST, |arg| {
        arg.default_value("127.0.0.1").help(
            "Local host name or IP address to bind to (default: this machine only; \
             0.0.0.0 opens the port to the network, see --auth-token-file)",
        )
    })
}

/// The task scheduling policy to run with: pull-staged when there is a token (see the module
/// doc), refusing a push-staged policy the user asked for; the flag's value otherwise.
pub fn scheduling_policy(
    matches: &ArgMatches,
    flag_id: &str,
    flag: TaskSchedulingPolicy,
    token: Option<&AuthToken>,
) -> Result<TaskSchedulingPolicy> {
    if token.is_none() {
        return Ok(flag);
    }
    let asked = matches!(
        matches.value_source(flag_id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    );
    match flag {
        TaskSchedulingPolicy::PushStaged if asked => Err(BallistaError::Configuration(
            "push-staged scheduling cannot be used with --auth-token-file: Ballista's \
             push-staged executors serve a task-launch service that cannot check the token; \
             leave the policy unset (pull-staged is used)"
                .to_string(),
        )),
        _ => Ok(TaskSchedulingPolicy::PullStaged),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1",
            "127.0.0.2",
            "::1",
            "[::1]",
            "localhost",
            "LOCALHOST",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["0.0.0.0", "::", "10.0.0.7", "scheduler", "example.com"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn an_open_port_needs_a_token_or_the_explicit_flag() {
        let flags = SecurityFlags {
            auth_token_file: None,
            allow_unauthenticated: false,
        };
        let err = flags
            .check_bind("0.0.0.0", None)
            .expect_err("open, no token");
        assert!(err.to_string().contains("--auth-token-file"), "{err}");
        assert!(flags.check_bind("127.0.0.1", None).is_ok());
        let token = AuthToken::new("0123456789abcdef").expect("token");
        assert!(flags.check_bind("0.0.0.0", Some(&token)).is_ok());
        let open = SecurityFlags {
            allow_unauthenticated: true,
            ..flags
        };
        assert!(open.check_bind("0.0.0.0", None).is_ok());
    }
}
