//! Distance kernel speed: ns per distance at common dims, for the CPU level picked at run
//! time (`RIVUS_CPU=baseline|avx2` to compare). Run:
//! `cargo run --release -p rivus-index --example distance_bench`.

use std::hint::black_box;
use std::time::Instant;

use rivus_index::distance::{cosine_f32, ip_f32, l2_f32, l2_i8};

fn main() {
    println!("CPU level: {:?}\n", rivus_schema::cpu::level());
    println!("| dim | l2_f32 ns | ip_f32 ns | cosine_f32 ns | l2_i8 ns |");
    println!("|---|---|---|---|---|");
    for dim in [128usize, 384, 768, 1536] {
        // 1,000 base vectors (fits in cache), one query.
        let base: Vec<f32> = (0..dim * 1000)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let q: Vec<f32> = (0..dim).map(|i| (i % 17) as f32 / 8.0 - 1.0).collect();
        let base8: Vec<i8> = base.iter().map(|x| (x * 100.0) as i8).collect();
        let q8: Vec<i8> = q.iter().map(|x| (x * 100.0) as i8).collect();
        let time = |f: &dyn Fn(usize) -> f32| {
            let mut best = f64::INFINITY;
            for _ in 0..20 {
                let start = Instant::now();
                let mut s = 0f32;
                for v in 0..1000 {
                    s += f(v);
                }
                black_box(s);
                best = best.min(start.elapsed().as_secs_f64() * 1e9 / 1000.0);
            }
            best
        };
        let l2 = time(&|v| l2_f32(&q, &base[v * dim..(v + 1) * dim]));
        let ip = time(&|v| ip_f32(&q, &base[v * dim..(v + 1) * dim]));
        let cos = time(&|v| cosine_f32(&q, &base[v * dim..(v + 1) * dim]));
        let l28 = time(&|v| l2_i8(&q8, &base8[v * dim..(v + 1) * dim]));
        println!("| {dim} | {l2:.1} | {ip:.1} | {cos:.1} | {l28:.1} |");
    }
}
