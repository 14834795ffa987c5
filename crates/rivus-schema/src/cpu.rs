//! Run-time CPU feature levels for kernels compiled more than once (baseline, AVX2,
//! AVX-512): the binary stays portable and uses the widest vectors the machine has.

/// The widest instruction set a kernel may use on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// x86-64 baseline (SSE2) or a non-x86 target: portable code only.
    Baseline,
    /// AVX2 + BMI2 + POPCNT.
    Avx2,
    /// AVX-512 F/BW/VL/DQ on top of AVX2.
    Avx512,
}

/// This machine's level, detected once. `RIVUS_CPU=baseline|avx2` caps it (to test and
/// benchmark the narrower copies).
pub fn level() -> Level {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = match std::env::var("RIVUS_CPU").as_deref() {
            Ok("baseline") => Level::Baseline,
            Ok("avx2") => Level::Avx2,
            _ => Level::Avx512,
        };
        let detected = detect();
        match (cap, detected) {
            (Level::Baseline, _) | (_, Level::Baseline) => Level::Baseline,
            (Level::Avx2, _) | (_, Level::Avx2) => Level::Avx2,
            (Level::Avx512, Level::Avx512) => Level::Avx512,
        }
    })
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    let avx2 = std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("bmi2")
        && std::arch::is_x86_feature_detected!("popcnt");
    let avx512 = avx2
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512dq");
    if avx512 {
        Level::Avx512
    } else if avx2 {
        Level::Avx2
    } else {
        Level::Baseline
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Level {
    Level::Baseline
}
