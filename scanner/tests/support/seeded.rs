//! The one proptest configuration of the workspace's property tests (scanner and ledger, unit
//! and integration tests alike): a fixed seed, so every run generates the same cases on every
//! machine and a failure found once is found again; and no failure-persistence files written
//! into the source tree. A case a failure shrank to is kept as an ordinary test next to its
//! property.
//!
//! To explore other cases, run with proptest's own `PROPTEST_RNG_SEED=<u64>`; the seed is
//! fixed whenever that variable is unset. proptest's `PROPTEST_CASES=<n>` sets how many cases
//! every property generates (more for a long soak, fewer for a quick run); unset, each property
//! runs the number of cases it names.

use proptest::test_runner::{Config, RngAlgorithm, RngSeed};

/// The seed every property test uses unless `PROPTEST_RNG_SEED` is set.
pub const SEED: u64 = 0x00c0_57d1_a7a0;

/// `cases` generated cases (or `PROPTEST_CASES`, when set) from the fixed seed (ChaCha, which
/// proptest keeps stable across releases), nothing persisted.
pub fn seeded(cases: u32) -> Config {
    let config = Config::default();
    Config {
        cases: cases_from(std::env::var("PROPTEST_CASES").ok().as_deref(), cases),
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: match config.rng_seed {
            RngSeed::Random => RngSeed::Fixed(SEED),
            chosen => chosen,
        },
        failure_persistence: None,
        ..config
    }
}

/// The number of cases `PROPTEST_CASES` asks for, or `default` when it is unset. A value that is
/// not a number is refused loudly rather than ignored: a soak run that silently ran the default
/// would claim more than it checked.
pub fn cases_from(variable: Option<&str>, default: u32) -> u32 {
    match variable.map(str::trim) {
        None | Some("") => default,
        Some(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("PROPTEST_CASES={text:?} is not a number of cases")),
    }
}
