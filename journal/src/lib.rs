//! A sans-IO write-ahead log.
