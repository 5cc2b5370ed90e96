//! Black-box test harness (being written).
