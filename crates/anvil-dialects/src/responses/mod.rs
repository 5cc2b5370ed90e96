//! responses dialect (in progress).
