//! anthropic dialect (in progress).
