//! Only tests: see tests/conformance.rs.
