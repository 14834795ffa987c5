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
//! --nq <first n queries> --json <file>` (the JSON is what `bench/ann_bench.py` reads);
//! for experiments, `--graph <file>` (load the graph from there if it exists, else build
//! and save it), `--rows <n>` (index a prefix of the base; recall is then meaningless) and
//! `--filter <percent>` (search under an allow-filter of that share of the rows, against
//! the exact filtered top-k, and time exact filtered search for comparison). HNSW_SQ:
//! `--sq SQ8` (codes encoded over the same graph; `--refine FP32 --refine-k 2` for the
//! refine step; searches run on one thread).
//!
//! Builds once per thread count (wall and process CPU time), then searches the graph built
//! with the first count. One thread searches on the calling thread, query after query;
//! more go through `search_batch` on a pool of that size. Queries/s is the best of five
//! passes of at least 0.3 s; for one thread also by the thread's CPU time, which other
//! processes on a shared machine cannot inflate. Base and queries are float32 `.npy`,
//! ground truth int64 `.npy` (row ids, best first).

use std::collections::HashSet;
use std::time::Instant;

use rivus_index::{
    flat, hnsw, DenseVectors, FrozenHnsw, FrozenHnswSq, HnswParams, Metric, RefineType,
    SearchOptions, SqType,
};
use rivus_schema::Bitmap;

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
    rows: Option<usize>,
    json: Option<String>,
    graph: Option<String>,
    filter_percent: Option<f64>,
    /// HNSW_SQ: walk the graph over codes of this type.
    sq: Option<SqType>,
    refine: Option<RefineType>,
    refine_k: Option<f32>,
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
        rows: None,
        json: None,
        graph: None,
        filter_percent: None,
        sq: None,
        refine: None,
        refine_k: None,
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
                args.ef_construction = value
                    .parse()
                    .map_err(|e| format!("--ef-construction: {e}"))?
            }
            "--threads" => args.threads = list(&value),
            "--ef" => args.efs = list(&value),
            "--k" => args.k = value.parse().map_err(|e| format!("--k: {e}"))?,
            "--nq" => args.nq = Some(value.parse().map_err(|e| format!("--nq: {e}"))?),
            "--rows" => args.rows = Some(value.parse().map_err(|e| format!("--rows: {e}"))?),
            "--json" => args.json = Some(value),
            "--graph" => args.graph = Some(value),
            "--sq" => args.sq = Some(SqType::from_name(&value).ok_or(format!("--sq {value}"))?),
            "--refine" => {
                args.refine =
                    Some(RefineType::from_name(&value).ok_or(format!("--refine {value}"))?)
            }
            "--refine-k" => {
                args.refine_k = Some(value.parse().map_err(|e| format!("--refine-k: {e}"))?)
            }
            "--filter" => {
                args.filter_percent = Some(value.parse().map_err(|e| format!("--filter: {e}"))?)
            }
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
    /// Queries per wall-clock second.
    qps: f64,
    /// Queries per second of the searching thread's CPU time (one thread only).
    cpu_qps: Option<f64>,
}

/// Best throughput over several timed passes.
struct Timing {
    qps: f64,
    cpu_qps: f64,
}

/// Passes of at least `MIN_PASS_SECS` (the query set repeated as needed); the best of
/// `PASSES` by wall time and, separately, by this thread's CPU time. Best-of, because the
/// machines are shared: a pass another process interrupted is slower, never faster.
fn time_passes<T>(
    nq: usize,
    mut f: impl FnMut() -> Result<T, String>,
) -> Result<(T, Timing), String> {
    const PASSES: usize = 5;
    const MIN_PASS_SECS: f64 = 0.3;
    let start = Instant::now();
    let mut out = f()?;
    let once = start.elapsed().as_secs_f64();
    let repeat = (MIN_PASS_SECS / once.max(1e-6)).ceil().max(1.0) as usize;
    let (mut wall, mut cpu) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..PASSES {
        let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
        for _ in 0..repeat {
            out = f()?;
        }
        wall = wall.min(start.elapsed().as_secs_f64() / repeat as f64);
        cpu = cpu.min((thread_cpu_ns() - cpu_start) as f64 * 1e-9 / repeat as f64);
    }
    let per_sec = |secs: f64| nq as f64 / secs.max(1e-9);
    Ok((
        out,
        Timing {
            qps: per_sec(wall),
            cpu_qps: per_sec(cpu),
        },
    ))
}

/// CPU time of the calling thread in ns (Linux `schedstat`; 0 elsewhere).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// User + system CPU time of this process in seconds (Linux; 0 elsewhere).
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are 12 and 13.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let base_npy = read_npy(&args.base)?;
    let (mut rows, dim) = base_npy.rows_cols();
    let mut values = base_npy.f32s()?;
    if let Some(limit) = args.rows {
        // A prefix of the base (build-time experiments; the ground truth no longer holds).
        rows = rows.min(limit);
        values.truncate(rows * dim);
    }
    let base = DenseVectors::new(values, dim).map_err(|e| e.to_string())?;
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
    let mut truth: Vec<HashSet<u32>> = (0..nq)
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
        let cpu = process_cpu_secs();
        let start = Instant::now();
        let g = pool(t)?
            .install(|| hnsw::build(&base, args.metric, &params))
            .map_err(|e| e.to_string())?;
        let secs = start.elapsed().as_secs_f64();
        let cpu = process_cpu_secs() - cpu;
        eprintln!("[rivus] build with {t} thread(s): {secs:.2} s ({cpu:.2} s CPU)");
        builds.push((t, secs, cpu));
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

    let mut opts = SearchOptions::new(k);
    let filter;
    if let Some(percent) = args.filter_percent {
        // A fixed pseudo-random `percent`% of the rows; ground truth and an exact-search
        // baseline come from FLAT over the same filter.
        filter = Bitmap::from_fn(rows, |r| {
            (r as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40
                < (percent / 100.0 * (1u64 << 24) as f64) as u64
        });
        opts = opts.with_filter(&filter);
        let (exact, timing) = time_passes(nq, || {
            queries
                .chunks_exact(dim)
                .map(|q| flat::search_one(&base, args.metric, q, &opts))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())
        })?;
        eprintln!(
            "[rivus] filter {percent}% ({} rows): exact search {:.0} q/s ({:.0} q/s of thread CPU)",
            filter.count_ones(),
            timing.qps,
            timing.cpu_qps
        );
        truth = exact
            .iter()
            .map(|hits| hits.iter().map(|h| h.row).collect())
            .collect();
    }
    let sq_index = match args.sq {
        Some(sq) => {
            let start = Instant::now();
            let codes = hnsw::sq::encode(&base, args.metric, sq, args.refine);
            eprintln!(
                "[rivus] {} codes{}: {:.2} s, {} bytes",
                sq.name(),
                args.refine
                    .map_or(String::new(), |r| format!(", refine {}", r.name())),
                start.elapsed().as_secs_f64(),
                codes.len()
            );
            Some(FrozenHnswSq::load(graph.as_bytes(), codes).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let mut results = Vec::new();
    for &ef in &args.efs {
        for &t in &args.threads {
            let (found, timing) = if let Some(index) = &sq_index {
                time_passes(nq, || {
                    queries
                        .chunks_exact(dim)
                        .map(|q| index.search(&base, q, &opts, ef, args.refine_k))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| e.to_string())
                })?
            } else if t == 1 {
                // One thread: the calling thread, one query after another, as an engine
                // search thread runs them.
                time_passes(nq, || {
                    queries
                        .chunks_exact(dim)
                        .map(|q| graph.search(&base, q, &opts, ef))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| e.to_string())
                })?
            } else {
                let pool = pool(t)?;
                time_passes(nq, || {
                    pool.install(|| graph.search_batch(&base, queries, &opts, ef))
                        .map_err(|e| e.to_string())
                })?
            };
            let hits: usize = found
                .iter()
                .zip(&truth)
                .map(|(f, t)| f.iter().filter(|h| t.contains(&h.row)).count())
                .sum();
            let recall = hits as f64 / (nq * k) as f64;
            let cpu_qps = (t == 1).then_some(timing.cpu_qps);
            eprintln!(
                "[rivus] ef={ef} threads={t}: recall@{k} {recall:.4}, {:.0} q/s{}",
                timing.qps,
                cpu_qps.map_or(String::new(), |c| format!(" ({c:.0} q/s of thread CPU)"))
            );
            results.push(SearchRow {
                ef,
                threads: t,
                recall,
                qps: timing.qps,
                cpu_qps,
            });
        }
    }

    println!();
    println!(
        "rivus HNSW, {rows} x {dim} {:?}, M={} efConstruction={}",
        args.metric, args.m, args.ef_construction
    );
    for (t, secs, cpu) in &builds {
        println!("build, {t} thread(s): {secs:.2} s ({cpu:.2} s CPU)");
    }
    println!("| ef | threads | recall@{k} | queries/s | queries/s of thread CPU |");
    println!("|---|---|---|---|---|");
    for r in &results {
        println!(
            "| {} | {} | {:.4} | {:.0} | {} |",
            r.ef,
            r.threads,
            r.recall,
            r.qps,
            r.cpu_qps.map_or("-".to_string(), |c| format!("{c:.0}"))
        );
    }
    if let Some(path) = &args.json {
        let builds_json: Vec<String> = builds
            .iter()
            .map(|(t, s, c)| {
                format!("{{\"threads\": {t}, \"seconds\": {s}, \"cpu_seconds\": {c}}}")
            })
            .collect();
        let search_json: Vec<String> = results
            .iter()
            .map(|r| {
                format!(
                    "{{\"ef\": {}, \"threads\": {}, \"recall\": {}, \"qps\": {}, \"cpu_qps\": {}}}",
                    r.ef,
                    r.threads,
                    r.recall,
                    r.qps,
                    r.cpu_qps.map_or("null".to_string(), |c| c.to_string())
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
