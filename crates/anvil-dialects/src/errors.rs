//! Error envelopes (in progress).
