//! Wire encoder (sensor side).
