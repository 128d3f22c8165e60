//! A sector-addressed simulated disk with seeded fault models (work in progress).
