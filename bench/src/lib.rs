//! Synthetic traffic generator and benchmarks.
