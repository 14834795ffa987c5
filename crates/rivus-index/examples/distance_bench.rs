//! Distance kernel speed: ns per distance at common dims, for the CPU level picked at run
//! time (`RIVUS_CPU=baseline|avx2` to compare). One query against `BENCH_N` base vectors
//! (default 1,000: 1.5 MB of 384-d f32, more than a core's L2 on some machines; try
//! `BENCH_N=100` for cache-resident data), best of `BENCH_REPS` (default 20) runs. Run:
//! `cargo run --release -p rivus-index --example distance_bench`.

use std::hint::black_box;
use std::time::Instant;

use rivus_index::distance::{
    cosine_bf16, cosine_f16, cosine_f32, cosine_f32_many, cosine_i8, f32_kernel, hamming, ip_bf16,
    ip_f16, ip_f32, ip_f32_many, ip_i8, jaccard, kernels, l2_bf16, l2_f16, l2_f32, l2_f32_many,
    l2_i8, Metric,
};

const DIMS: [usize; 4] = [128, 384, 768, 1536];

/// Base vectors per dim: one query against each in turn.
fn n() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        std::env::var("BENCH_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000)
    })
}

/// Runs per measurement (the best counts): `BENCH_REPS`, default 20.
fn reps() -> usize {
    static REPS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *REPS.get_or_init(|| {
        std::env::var("BENCH_REPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20)
    })
}

/// Best of `reps()` runs over the base vectors, in ns per distance.
#[inline(always)]
fn time(f: impl Fn(usize) -> f32) -> f64 {
    let (n, mut best) = (n(), f64::INFINITY);
    for _ in 0..reps() {
        let start = Instant::now();
        let mut s = 0f32;
        for v in 0..n {
            s += f(black_box(v));
        }
        black_box(s);
        best = best.min(start.elapsed().as_secs_f64() * 1e9 / n as f64);
    }
    best
}

/// Best of `reps()` batches over all the base vectors, in ns per distance.
fn time_many(d: &Data, f: fn(&[f32], &[f32], usize, &mut [f32])) -> f64 {
    let mut out = vec![0f32; n()];
    let mut best = f64::INFINITY;
    for _ in 0..reps() {
        let start = Instant::now();
        f(black_box(&d.q), black_box(&d.base), d.dim, &mut out);
        black_box(&mut out);
        best = best.min(start.elapsed().as_secs_f64() * 1e9 / n() as f64);
    }
    best
}

/// One dim's vectors in every element type.
struct Data {
    dim: usize,
    base: Vec<f32>,
    q: Vec<f32>,
    base16: Vec<u16>,
    q16: Vec<u16>,
    baseb: Vec<u16>,
    qb: Vec<u16>,
    base8: Vec<i8>,
    q8: Vec<i8>,
    /// Binary vectors of `dim` bits.
    bits: Vec<u8>,
    qbits: Vec<u8>,
}

/// f32 to IEEE half bits (round toward zero; values here are small normals).
fn f16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
    if x == 0.0 || exp <= 0 {
        return sign;
    }
    sign | ((exp as u16) << 10) | ((b >> 13) & 0x3ff) as u16
}

impl Data {
    fn new(dim: usize) -> Data {
        let base: Vec<f32> = (0..dim * n())
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let q: Vec<f32> = (0..dim).map(|i| (i % 17) as f32 / 8.0 - 1.0).collect();
        let bf = |v: &[f32]| v.iter().map(|x| (x.to_bits() >> 16) as u16).collect();
        let h = |v: &[f32]| v.iter().map(|x| f16_bits(*x)).collect();
        let i8s = |v: &[f32]| v.iter().map(|x| (x * 100.0) as i8).collect();
        let bits = (0..dim / 8 * n()).map(|i| (i * 7919 % 251) as u8).collect();
        let qbits = (0..dim / 8).map(|i| (i * 37 % 256) as u8).collect();
        Data {
            dim,
            base16: h(&base),
            q16: h(&q),
            baseb: bf(&base),
            qb: bf(&q),
            base8: i8s(&base),
            q8: i8s(&q),
            base,
            q,
            bits,
            qbits,
        }
    }
}

type Bench = (&'static str, fn(&Data) -> f64);

fn benches() -> Vec<Bench> {
    macro_rules! one {
        ($name:literal, $f:expr, $q:ident, $base:ident) => {
            ($name, |d: &Data| {
                let dim = d.dim;
                time(|v| $f(&d.$q, &d.$base[v * dim..(v + 1) * dim]))
            })
        };
    }
    vec![
        one!("l2_f32", l2_f32, q, base),
        ("l2_f32 (fn pointer)", |d: &Data| {
            let (dim, f) = (d.dim, f32_kernel(Metric::L2));
            time(|v| f(&d.q, &d.base[v * dim..(v + 1) * dim]))
        }),
        ("l2_f32_many (per vector)", |d: &Data| {
            time_many(d, l2_f32_many)
        }),
        one!("ip_f32", ip_f32, q, base),
        ("ip_f32 (fn pointer)", |d: &Data| {
            let (dim, f) = (d.dim, f32_kernel(Metric::Ip));
            time(|v| f(&d.q, &d.base[v * dim..(v + 1) * dim]))
        }),
        ("ip_f32_many (per vector)", |d: &Data| {
            time_many(d, ip_f32_many)
        }),
        one!("cosine_f32", cosine_f32, q, base),
        ("cosine_f32 (fn pointer)", |d: &Data| {
            let (dim, f) = (d.dim, f32_kernel(Metric::Cosine));
            time(|v| f(&d.q, &d.base[v * dim..(v + 1) * dim]))
        }),
        ("cosine_f32_many (per vector)", |d: &Data| {
            time_many(d, cosine_f32_many)
        }),
        one!("l2_f16", l2_f16, q16, base16),
        one!("ip_f16", ip_f16, q16, base16),
        one!("cosine_f16", cosine_f16, q16, base16),
        one!("l2_bf16", l2_bf16, qb, baseb),
        one!("ip_bf16", ip_bf16, qb, baseb),
        one!("cosine_bf16", cosine_bf16, qb, baseb),
        one!("l2_i8", l2_i8, q8, base8),
        one!("ip_i8", ip_i8, q8, base8),
        one!("cosine_i8", cosine_i8, q8, base8),
        ("hamming (dim bits)", |d: &Data| {
            let n = d.dim / 8;
            time(|v| hamming(&d.qbits, &d.bits[v * n..(v + 1) * n]))
        }),
        ("jaccard (dim bits)", |d: &Data| {
            let n = d.dim / 8;
            time(|v| jaccard(&d.qbits, &d.bits[v * n..(v + 1) * n]))
        }),
    ]
}

fn main() {
    println!(
        "CPU level: {:?} (kernels: {:?}), {} base vectors\n",
        rivus_schema::cpu::level(),
        kernels().level,
        n()
    );
    let data: Vec<Data> = DIMS.iter().map(|&d| Data::new(d)).collect();
    print!("| kernel (ns/distance) |");
    for d in DIMS {
        print!(" {d} |");
    }
    println!();
    println!("|---|{}", "---|".repeat(DIMS.len()));
    for (name, bench) in benches() {
        print!("| {name} |");
        for d in &data {
            print!(" {:.1} |", bench(d));
        }
        println!();
    }
}
