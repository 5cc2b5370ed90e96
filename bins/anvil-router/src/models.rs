//! `GET /v1/models`: the presets, in a list shape both OpenAI's and Anthropic's model pickers read.

use anvil_config::RouterConfig;
use serde_json::{json, Value};

/// The five canonical presets: id, display name, description.
pub const PRESETS: [(&str, &str, &str); 5] = [
    (
        "planning",
        "Planning",
        "Multi-step planning and architecture: decompose a task, weigh trade-offs, and produce a build plan before any code is edited.",
    ),
    (
        "quick-edit",
        "Quick Edit",
        "Small, bounded code edits: a focused change to one or a few files where the scope is already clear.",
    ),
    (
        "review",
        "Review",
        "Code review and multi-file reasoning: critique a diff, trace changes across files, and surface bugs and risks.",
    ),
    (
        "chat",
        "Chat",
        "General conversation and Q&A: explanations, brainstorming, and quick questions with no code-editing commitment.",
    ),
    (
        "long-context",
        "Long Context",
        "Large-context work: reason over very long inputs (big files, logs, or many documents) in a single request.",
    ),
];

/// Fixed creation time, so the payload is byte-stable.
const CREATED: u64 = 1_700_000_000;
const CREATED_AT: &str = "2023-11-14T22:13:20Z";

fn entry(id: &str, name: &str, description: &str) -> Value {
    json!({
        "id": id,
        "object": "model",
        "type": "model",
        "created": CREATED,
        "created_at": CREATED_AT,
        "owned_by": "anvil",
        "display_name": name,
        "name": name,
        "description": description,
    })
}

/// The model list: the five canonical presets, then any custom presets the config declares.
/// OpenAI clients read `object`/`data[].id`/`owned_by`; Anthropic clients read
/// `data[].type`/`id`/`display_name`/`created_at` and the paging fields.
pub fn list(config: &RouterConfig) -> Value {
    let mut data: Vec<Value> = PRESETS
        .iter()
        .map(|(id, name, description)| entry(id, name, description))
        .collect();
    for preset in &config.presets {
        let canonical = PRESETS
            .iter()
            .any(|(id, _, _)| id.eq_ignore_ascii_case(&preset.name));
        if !canonical {
            let description = format!("Custom preset: tiers {}.", preset.tiers.join(", "));
            data.push(entry(&preset.name, &preset.name, &description));
        }
    }
    let first = data
        .first()
        .and_then(|m| m["id"].as_str())
        .map(str::to_owned);
    let last = data
        .last()
        .and_then(|m| m["id"].as_str())
        .map(str::to_owned);
    json!({
        "object": "list",
        "data": data,
        "has_more": false,
        "first_id": first,
        "last_id": last,
    })
}
