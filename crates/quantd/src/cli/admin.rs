//! The arguments of the registries an operator keeps: `quantd rights …` (data providers and
//! their terms), `agents …`, `policy …` (workspace retry policies) and `webhooks …`.

use super::parse_class_retry;
use clap::{Args, Subcommand};

/// `quantd rights ...`
#[derive(Debug, Subcommand)]
pub enum RightsCommand {
    /// Add (or replace) a provider: what may leave quantd of the data of packs that name it.
    Add(RightsAddArgs),
    /// The providers of the registry.
    List,
    /// Remove a provider no pack names.
    Rm {
        /// Its name.
        name: String,
    },
    /// Make a pack (every import of its name) take a provider's terms, or its own again.
    Assign(RightsAssignArgs),
    /// The audit trail: refused and watermarked exports, newest first (with --actions, every
    /// recorded action: created, paused, cancelled, …).
    Log(RightsLogArgs),
}

/// Arguments of `rights add`.
#[derive(Debug, Args)]
pub struct RightsAddArgs {
    /// Its name (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// The licence the data is under.
    #[arg(long)]
    pub license: Option<String>,
    /// Text to show with the data and everything derived from it.
    #[arg(long)]
    pub attribution: Option<String>,
    /// What may leave quantd of data derived from its bars: allow, watermark or deny.
    #[arg(long, default_value = "allow", value_parser = parse_policy)]
    pub export: quantd_core::ExportPolicy,
    /// An environment the licence covers (a server's QUANTD_ENVIRONMENT); repeatable; none: any.
    #[arg(long = "environment", value_name = "NAME")]
    pub environments: Vec<String>,
}

/// An export policy by name.
pub fn parse_policy(s: &str) -> Result<quantd_core::ExportPolicy, String> {
    quantd_core::ExportPolicy::parse(s)
        .ok_or_else(|| format!("`{s}` is not a policy; use allow, watermark or deny"))
}

/// Arguments of `rights assign`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("whose").required(true).args(["provider", "none"]))]
pub struct RightsAssignArgs {
    /// The pack's name.
    pub pack: String,
    /// The provider whose terms apply.
    #[arg(long)]
    pub provider: Option<String>,
    /// The pack's own terms again.
    #[arg(long)]
    pub none: bool,
}

/// Arguments of `rights log`.
#[derive(Debug, Args)]
pub struct RightsLogArgs {
    /// Every workspace's entries (default: this CLI's workspace).
    #[arg(long)]
    pub all: bool,
    /// Every recorded action, not only exports.
    #[arg(long)]
    pub actions: bool,
    /// Only this execution's entries.
    #[arg(long)]
    pub execution: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

/// `quantd agents ...`
#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Register (or replace) an agent: an HTTP endpoint that takes a JSON task and answers JSON.
    Add(AgentAddArgs),
    /// The agents of the workspace, with their circuit breakers as this process sees them.
    List,
    /// Remove an agent.
    Rm {
        /// Its name.
        name: String,
    },
}

/// `quantd policy ...`
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Show the workspace's policy.
    Show {
        /// The workspace (default: the CLI's, `default`).
        #[arg(long, default_value = "default")]
        workspace: String,
    },
    /// Change the workspace's policy: the settings given, the others kept.
    #[command(group(clap::ArgGroup::new("setting").required(true).multiple(true).args(["retry", "require_evaluation", "live_trading"])))]
    Set {
        /// The workspace (default: the CLI's, `default`).
        #[arg(long, default_value = "default")]
        workspace: String,
        /// Retries per error class as JSON, e.g. '{"network": {"maximum_attempts": 5},
        /// "timeout": {"maximum_attempts": 3, "timeout_multiplier": 2}, "execution":
        /// {"maximum_attempts": 1}}'; '{}' clears them.
        #[arg(long, value_name = "JSON", value_parser = parse_class_retry)]
        retry: Option<quantd_engine::exec::retry::ClassPolicies>,
        /// Run (scan, test, backtest, sweep) only stored code whose version passed its newest
        /// evaluation (`quantd evaluate`; docs/evaluation.md): true or false.
        #[arg(long, value_name = "BOOL")]
        require_evaluation: Option<bool>,
        /// Allow `live` sessions in the workspace (`quantd paper --live`): real orders at the
        /// Alpaca account of the workers' APCA_API_KEY_ID. true or false.
        #[arg(long, value_name = "BOOL")]
        live_trading: Option<bool>,
    },
}

/// `quantd webhooks ...`
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Register a webhook; its signing secret is printed once (docs/webhooks.md).
    Add(WebhookAddArgs),
    /// The webhooks of the workspace (without their secrets).
    List,
    /// Remove a webhook and its delivery log.
    Remove {
        /// Its id (`wh_…`).
        id: String,
    },
    /// A webhook's deliveries, newest first, with every attempt (status, error, duration).
    Deliveries {
        /// Its id (`wh_…`).
        id: String,
        /// At most this many deliveries (1–500).
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

/// Arguments of `webhooks add`.
#[derive(Debug, Args)]
pub struct WebhookAddArgs {
    /// Where deliveries are POSTed (`http://` or `https://`).
    pub url: String,
    /// The events it is told about, comma-separated, among completed, failed, cancelled
    /// (default: all three).
    #[arg(long, value_delimiter = ',')]
    pub events: Option<Vec<String>>,
    /// The HMAC-SHA256 key that signs deliveries (16 to 256 bytes); generated and printed once
    /// when absent.
    #[arg(long)]
    pub secret: Option<String>,
}

/// Arguments of `agents add`.
#[derive(Debug, Args)]
pub struct AgentAddArgs {
    /// Its name (letters, digits, `-`, `_`).
    pub name: String,
    /// Where tasks are sent (`http://` or `https://`).
    #[arg(long)]
    pub url: String,
    /// A capability it has; repeatable.
    #[arg(long = "capability", required = true)]
    pub capabilities: Vec<String>,
    /// The environment variable holding the secret that signs each request (HMAC-SHA256).
    #[arg(long)]
    pub secret_env: Option<String>,
    /// Circuit breaker settings as JSON (resilience4j's names, e.g. '{"failure_rate_threshold": 50}').
    #[arg(long)]
    pub breaker: Option<String>,
}
