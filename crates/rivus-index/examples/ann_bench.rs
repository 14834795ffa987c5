//! HNSW build time, recall@10 and queries/s on a real data set, for the comparison with
//! hnswlib and faiss in `bench/ann_bench.py` (which runs this and prints one table).
//!
//! ```sh
//! cargo run --release -p rivus-index --example ann_bench -- \
//!     --base bench/data/wordnet_minilm_base.npy --queries bench/data/wordnet_minilm_queries.npy \
//!     --gt bench/data/wordnet_minilm_gt.npy --metric COSINE
//! ```
//!
//! Options: `--m 16 --ef-construction 200 --threads 1,2 --ef 16,32,64,128,256 --k 10
//! --nq <first n queries> --json <file>` (the JSON is what `bench/ann_bench.py` reads).
//! Builds once per thread count (timed), searches the graph built with the first count;
//! queries/s is the best of three passes over all queries. Base and queries are float32
//! `.npy`, ground truth int64 `.npy` (row ids, best first).

use std::collections::HashSet;
use std::time::Instant;

use rivus_index::{hnsw, DenseVectors, FrozenHnsw, HnswParams, Metric, SearchOptions};

/// A C-order `.npy` array: its shape and raw little-endian data.
struct Npy {
    shape: Vec<usize>,
    descr: String,
    data: Vec<u8>,
}

/// Reads a `.npy` file (format versions 1-3, C order).
fn read_npy(path: &str) -> Result<Npy, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    if bytes.get(..6) != Some(b"\x93NUMPY") {
        return Err(format!("{path}: not a .npy file"));
    }
    let major = bytes.get(6).copied().unwrap_or(0);
    let (header_len, header_at) = match major {
        1 => (
            usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
            10usize,
        ),
        2 | 3 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12usize,
        ),
        v => return Err(format!("{path}: npy version {v}")),
    };
    let header = std::str::from_utf8(&bytes[header_at..header_at + header_len])
        .map_err(|e| format!("{path}: {e}"))?;
    let field = |name: &str| -> Option<&str> {
        let at = header.find(&format!("'{name}':"))? + name.len() + 3;
        Some(header[at..].trim_start())
    };
    let descr = field("descr")
        .and_then(|s| s.strip_prefix('\''))
        .and_then(|s| s.split('\'').next())
        .ok_or(format!("{path}: no descr"))?
        .to_string();
    if field("fortran_order").is_some_and(|s| s.starts_with("True")) {
        return Err(format!("{path}: Fortran order"));
    }
    let shape_text = field("shape")
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.split(')').next())
        .ok_or(format!("{path}: no shape"))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|e| format!("{path}: shape {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Npy {
        shape,
        descr,
        data: bytes[header_at + header_len..].to_vec(),
    })
}

impl Npy {
    fn rows_cols(&self) -> (usize, usize) {
        (
            self.shape.first().copied().unwrap_or(0),
            self.shape.get(1).copied().unwrap_or(1),
        )
    }

    fn f32s(&self) -> Result<Vec<f32>, String> {
        if self.descr != "<f4" {
            return Err(format!("expected <f4, got {}", self.descr));
        }
        Ok(self
            .data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn i64s(&self) -> Result<Vec<i64>, String> {
        if self.descr != "<i8" {
            return Err(format!("expected <i8, got {}", self.descr));
        }
        Ok(self
            .data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect())
    }
}

struct Args {
    base: String,
    queries: String,
    gt: String,
    metric: Metric,
    m: usize,
    ef_construction: usize,
    threads: Vec<usize>,
    efs: Vec<usize>,
    k: usize,
    nq: Option<usize>,
    json: Option<String>,
    graph: Option<String>,
}

fn list(s: &str) -> Vec<usize> {
    s.split(',').filter_map(|v| v.trim().parse().ok()).collect()
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        base: String::new(),
        queries: String::new(),
        gt: String::new(),
        metric: Metric::L2,
        m: 16,
        ef_construction: 200,
        threads: vec![1, 2],
        efs: vec![16, 32, 64, 128, 256],
        k: 10,
        nq: None,
        json: None,
        graph: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--base" => args.base = value,
            "--queries" => args.queries = value,
            "--gt" => args.gt = value,
            "--metric" => {
                args.metric = Metric::from_name(&value).ok_or(format!("metric {value}"))?
            }
            "--m" => args.m = value.parse().map_err(|e| format!("--m: {e}"))?,
            "--ef-construction" => {
                args.ef_construction = value.parse().map_err(|e| format!("--ef-construction: {e}"))?
            }
            "--threads" => args.threads = list(&value),
            "--ef" => args.efs = list(&value),
            "--k" => args.k = value.parse().map_err(|e| format!("--k: {e}"))?,
            "--nq" => args.nq = Some(value.parse().map_err(|e| format!("--nq: {e}"))?),
            "--json" => args.json = Some(value),
            "--graph" => args.graph = Some(value),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if args.base.is_empty() || args.queries.is_empty() || args.gt.is_empty() {
        return Err("--base, --queries and --gt are required".into());
    }
    Ok(args)
}

fn pool(threads: usize) -> Result<rayon::ThreadPool, String> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| e.to_string())
}

struct SearchRow {
    ef: usize,
    threads: usize,
    recall: f64,
    qps: f64,
}

/// CPU time of the calling thread in ns (Linux `schedstat`; 0 elsewhere).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let base_npy = read_npy(&args.base)?;
    let (rows, dim) = base_npy.rows_cols();
    let base = DenseVectors::new(base_npy.f32s()?, dim).map_err(|e| e.to_string())?;
    drop(base_npy);
    let queries_npy = read_npy(&args.queries)?;
    let (mut nq, qdim) = queries_npy.rows_cols();
    if qdim != dim {
        return Err(format!("queries have dim {qdim}, base {dim}"));
    }
    let gt_npy = read_npy(&args.gt)?;
    let (_, gt_k) = gt_npy.rows_cols();
    let gt = gt_npy.i64s()?;
    if let Some(limit) = args.nq {
        nq = nq.min(limit);
    }
    let queries = queries_npy.f32s()?;
    let queries = &queries[..nq * dim];
    let k = args.k;
    let truth: Vec<HashSet<u32>> = (0..nq)
        .map(|q| {
            gt[q * gt_k..q * gt_k + k.min(gt_k)]
                .iter()
                .map(|&id| id as u32)
                .collect()
        })
        .collect();
    eprintln!(
        "[rivus] {rows} x {dim}, {nq} queries, {:?}, M={} efConstruction={}",
        args.metric, args.m, args.ef_construction
    );

    let params = HnswParams::new(args.m, args.ef_construction);
    let mut builds = Vec::new();
    let mut graph: Option<FrozenHnsw<Vec<u8>>> = None;
    if let Some(bytes) = args.graph.as_ref().and_then(|p| std::fs::read(p).ok()) {
        graph = Some(FrozenHnsw::load(bytes).map_err(|e| e.to_string())?);
        eprintln!("[rivus] graph loaded, builds skipped");
    }
    let loaded = graph.is_some();
    for &t in args.threads.iter().filter(|_| !loaded) {
        let start = Instant::now();
        let g = pool(t)?
            .install(|| hnsw::build(&base, args.metric, &params))
            .map_err(|e| e.to_string())?;
        let secs = start.elapsed().as_secs_f64();
        eprintln!("[rivus] build with {t} thread(s): {secs:.2} s");
        builds.push((t, secs));
        if graph.is_none() {
            graph = Some(g);
        }
    }
    let graph = graph.ok_or("no thread counts given")?;
    if let (Some(path), false) = (&args.graph, builds.is_empty()) {
        let file = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
        graph
            .write_to(std::io::BufWriter::new(file))
            .map_err(|e| e.to_string())?;
    }

    let opts = SearchOptions::new(k);
    let mut results = Vec::new();
    if std::env::var_os("ANN_BENCH_CPU").is_some() {
        // Experiments on a shared machine: one thread, on this thread, timed by the CPU
        // time the scheduler gave it (preemption by other processes does not count).
        for &ef in &args.efs {
            let mut best = f64::INFINITY;
            for _ in 0..5 {
                let start = thread_cpu_ns();
                for q in queries.chunks_exact(dim) {
                    std::hint::black_box(graph.search(&base, q, &opts, ef).map_err(|e| e.to_string())?);
                }
                best = best.min((thread_cpu_ns() - start) as f64 * 1e-9);
            }
            println!("cpu ef={ef}: {:.0} q/s", nq as f64 / best);
        }
        return Ok(());
    }
    for &ef in &args.efs {
        for &t in &args.threads {
            let pool = pool(t)?;
            let mut best = f64::INFINITY;
            let mut found = Vec::new();
            for _ in 0..3 {
                let start = Instant::now();
                found = pool
                    .install(|| graph.search_batch(&base, queries, &opts, ef))
                    .map_err(|e| e.to_string())?;
                best = best.min(start.elapsed().as_secs_f64());
            }
            let hits: usize = found
                .iter()
                .zip(&truth)
                .map(|(f, t)| f.iter().filter(|h| t.contains(&h.row)).count())
                .sum();
            let recall = hits as f64 / (nq * k) as f64;
            let qps = nq as f64 / best;
            eprintln!("[rivus] ef={ef} threads={t}: recall@{k} {recall:.4}, {qps:.0} q/s");
            results.push(SearchRow {
                ef,
                threads: t,
                recall,
                qps,
            });
        }
    }

    println!();
    println!(
        "rivus HNSW, {rows} x {dim} {:?}, M={} efConstruction={}",
        args.metric, args.m, args.ef_construction
    );
    for (t, secs) in &builds {
        println!("build, {t} thread(s): {secs:.2} s");
    }
    println!("| ef | threads | recall@{k} | queries/s |");
    println!("|---|---|---|---|");
    for r in &results {
        println!(
            "| {} | {} | {:.4} | {:.0} |",
            r.ef, r.threads, r.recall, r.qps
        );
    }
    if let Some(path) = &args.json {
        let builds_json: Vec<String> = builds
            .iter()
            .map(|(t, s)| format!("{{\"threads\": {t}, \"seconds\": {s}}}"))
            .collect();
        let search_json: Vec<String> = results
            .iter()
            .map(|r| {
                format!(
                    "{{\"ef\": {}, \"threads\": {}, \"recall\": {}, \"qps\": {}}}",
                    r.ef, r.threads, r.recall, r.qps
                )
            })
            .collect();
        let json = format!(
            "{{\"builds\": [{}], \"search\": [{}]}}\n",
            builds_json.join(", "),
            search_json.join(", ")
        );
        std::fs::write(path, json).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("ann_bench: {e}");
        std::process::exit(2);
    }
}
