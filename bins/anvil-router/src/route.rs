//! Which tiers may serve a request, in order. Today: a preset named in `model` (its tiers in order),
//! a tier pin (`<tier-id>` or `tier:<tier-id>`), or the `chat` preset for any other model string. The
//! intent/classify/policy layers replace this with a measured plan; the request path already walks a
//! list of candidates.

use anvil_config::RouterConfig;

/// Where the route came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A preset named in `model`.
    Preset,
    /// A tier pinned in `model`.
    Pin,
    /// Any other model string: the default preset.
    Default,
}

/// A plan: candidate tiers (indices into the config's tiers), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub candidates: Vec<usize>,
    pub work_class: &'static str,
    pub source: Source,
}

/// The work class a canonical preset stands for.
fn work_class_of(preset: &str) -> &'static str {
    match preset.to_ascii_lowercase().as_str() {
        "planning" => "planning",
        "quick-edit" => "bounded-edit",
        "review" => "review",
        "long-context" => "long-context",
        _ => "chat",
    }
}

/// Resolves the `model` string of a request.
pub fn resolve(config: &RouterConfig, model: &str) -> Route {
    let token = model.trim();
    let token = token
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("anvil/"))
        .map_or(token, |_| &token[6..]);
    let index = |id: &str| config.tiers.iter().position(|t| t.id == id);

    if let Some(id) = token.strip_prefix("tier:") {
        if let Some(i) = index(id) {
            return Route {
                candidates: vec![i],
                work_class: "chat",
                source: Source::Pin,
            };
        }
    }
    if let Some(preset) = config.preset(token) {
        return Route {
            candidates: preset.tiers.iter().filter_map(|id| index(id)).collect(),
            work_class: work_class_of(&preset.name),
            source: Source::Preset,
        };
    }
    if let Some(i) = index(token) {
        return Route {
            candidates: vec![i],
            work_class: "chat",
            source: Source::Pin,
        };
    }
    let candidates = match config.preset("chat") {
        Some(preset) => preset.tiers.iter().filter_map(|id| index(id)).collect(),
        None => (0..config.tiers.len()).collect(),
    };
    Route {
        candidates,
        work_class: "chat",
        source: Source::Default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RouterConfig {
        let src = r#"
[router]
mapping_version = "t"
[[router.tiers]]
id = "fast"
base_url = "http://127.0.0.1:1/v1"
dialect = "openai"
context_limit = 1000
privacy = "local"
tool_support = true
[[router.tiers]]
id = "heavy"
base_url = "http://127.0.0.1:2/v1"
dialect = "openai"
context_limit = 1000
privacy = "local"
tool_support = true
[router.presets]
chat = ["fast", "heavy"]
quick-edit = ["fast", "heavy"]
planning = ["heavy"]
"#;
        anvil_config::parse(src).unwrap().router
    }

    #[test]
    fn resolves_presets_pins_and_the_default() {
        let config = config();
        let cases = [
            ("planning", vec![1], "planning", Source::Preset),
            (
                "anvil/Quick-Edit",
                vec![0, 1],
                "bounded-edit",
                Source::Preset,
            ),
            ("ANVIL/planning", vec![1], "planning", Source::Preset),
            ("heavy", vec![1], "chat", Source::Pin),
            ("tier:fast", vec![0], "chat", Source::Pin),
            ("tier:nope", vec![0, 1], "chat", Source::Default),
            ("claude-opus-4-8", vec![0, 1], "chat", Source::Default),
            ("", vec![0, 1], "chat", Source::Default),
        ];
        for (model, candidates, work_class, source) in cases {
            let route = resolve(&config, model);
            assert_eq!(
                route,
                Route {
                    candidates,
                    work_class,
                    source
                },
                "{model}"
            );
        }
    }
}
