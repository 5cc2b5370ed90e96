//! Translation between dialects (in progress).
