//! The endpoint a network verb talks to: `--base-url` and `--model`, or `--config` and `--tier`
//! (an `openai`-dialect tier of an anvil config: its `base_url`, `model` and `auth_env` key), and
//! the API key (`--api-key`, `--api-key-env`, else the tier's `auth_env`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

/// Endpoint flags shared by `preflight` and `benchmark`.
#[derive(Debug, Args)]
pub struct Endpoint {
    /// OpenAI-compatible base URL (with /v1)
    #[arg(long, value_name = "URL", required_unless_present = "tier")]
    base_url: Option<String>,
    /// Model name to request
    #[arg(long, required_unless_present = "tier")]
    model: Option<String>,
    /// An openai-dialect tier of --config to test (instead of --base-url/--model)
    #[arg(long, requires = "config", conflicts_with = "base_url")]
    tier: Option<String>,
    /// anvil config that --tier names a tier of
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// API key sent as a Bearer token (prefer --api-key-env)
    #[arg(long, value_name = "KEY", conflicts_with = "api_key_env")]
    api_key: Option<String>,
    /// Name of an environment variable holding the API key
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
}

/// A resolved endpoint.
pub struct Resolved {
    /// Base URL (with /v1).
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// API key, if any.
    pub key: Option<String>,
}

/// Loads an anvil config (the same validation as `config check`).
pub fn load_config(path: &Path) -> anyhow::Result<anvil_config::Config> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    anvil_config::parse(&text).map_err(|errors| {
        let first = errors
            .iter()
            .next()
            .map(ToString::to_string)
            .unwrap_or_default();
        anyhow::anyhow!(
            "{}: {} error(s) in the config, first: {first}",
            path.display(),
            errors.len()
        )
    })
}

/// The base URL, model and key of tier `id` (an openai-dialect tier with a model).
pub fn config_tier(
    config: &anvil_config::Config,
    id: &str,
) -> anyhow::Result<(String, String, Option<String>)> {
    let tier = config
        .router
        .tier(id)
        .with_context(|| format!("tier {id}: the config declares no such tier"))?;
    anyhow::ensure!(
        tier.dialect == anvil_config::Dialect::OpenAi,
        "tier {id}: only openai-dialect tiers can be tested this way"
    );
    let model = tier
        .model
        .clone()
        .with_context(|| format!("tier {id}: the tier sets no model"))?;
    let key = tier
        .auth_env
        .as_ref()
        .and_then(|var| std::env::var(var).ok())
        .filter(|k| !k.is_empty());
    Ok((tier.base_url.clone(), model, key))
}

impl Endpoint {
    /// Resolves the flags.
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let flag_key = match (&self.api_key, &self.api_key_env) {
            (Some(k), _) => Some(k.clone()),
            (None, Some(var)) => Some(
                std::env::var(var)
                    .with_context(|| format!("environment variable {var} is not set"))?,
            ),
            (None, None) => None,
        };
        match (&self.tier, &self.config) {
            (Some(id), Some(path)) => {
                let (base_url, model, key) = config_tier(&load_config(path)?, id)?;
                Ok(Resolved {
                    base_url,
                    model: self.model.clone().unwrap_or(model),
                    key: flag_key.or(key),
                })
            }
            _ => Ok(Resolved {
                base_url: self.base_url.clone().context("--base-url is required")?,
                model: self.model.clone().context("--model is required")?,
                key: flag_key,
            }),
        }
    }
}
