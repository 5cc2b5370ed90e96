//! openai dialect (in progress).
