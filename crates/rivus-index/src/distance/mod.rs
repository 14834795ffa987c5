//! Distance kernels, in up to three copies picked once per process from
//! [`rivus_schema::cpu::level`] (`RIVUS_CPU=baseline|avx2` caps it):
//!
//! - `portable`: 16-lane loops the compiler vectorizes for the x86-64 baseline (SSE2) or any
//!   other target, without reassociating floating-point sums;
//! - `avx2`: hand-written AVX2 + FMA + F16C kernels (and hardware `popcnt`);
//! - `avx512`: hand-written AVX-512 F/BW/VL/DQ kernels with masked tail loads (and
//!   AVX-512 VPOPCNTDQ for the binary metrics where the CPU has it); float16 keeps the
//!   AVX2 kernels, which measured faster on Zen 4.
//!
//! Milvus's conventions: L2 is the *squared* Euclidean distance (smaller is closer); IP is
//! the inner product and COSINE the cosine similarity (larger is closer; 0 when either vector
//! is all zeros); HAMMING counts differing bits; JACCARD is `1 - |a & b| / |a | b|` (0 for
//! two empty vectors). Two vectors of different lengths are compared over the shorter one.
//!
//! Float kernels sum in f32 with several independent accumulators; int8 kernels sum exactly
//! in integers. Hot loops should fetch a kernel once ([`kernels`], [`f32_kernel`],
//! [`l2_f32_kernel`], ...) and call the function pointer: the free functions ([`l2_f32`], ...)
//! look the table up on every call. Exact search over contiguous vectors can use the batch
//! helpers ([`l2_f32_many`], [`ip_f32_many`], [`cosine_f32_many`]): one dispatch per batch.

use std::sync::OnceLock;

use rivus_schema::cpu::{self, Level};

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod portable;
#[cfg(test)]
mod tests;

/// A float metric (the binary ones, HAMMING and JACCARD, have their own kernels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Squared Euclidean distance; smaller is closer.
    L2,
    /// Inner product; larger is closer.
    Ip,
    /// Cosine similarity (0 when either vector is all zeros); larger is closer.
    Cosine,
}

/// A distance kernel over two vectors of `T` (compared over the shorter length).
pub type Kernel<T> = fn(&[T], &[T]) -> f32;

/// A batch kernel `(query, data, dim, out)`: `out[i]` is the distance from `query` to
/// `data[i * dim..(i + 1) * dim]`, as the single kernel computes it up to float rounding
/// (the SIMD copies run four rows per pass and sum in another order; cosine computes the
/// query's norm once). A row's result depends only on the query and that row, not on its
/// neighbours or its place in the batch.
///
/// # Panics
///
/// When `data` holds fewer than `out.len() * dim` values.
pub type ManyKernel = fn(&[f32], &[f32], usize, &mut [f32]);

/// Every kernel, resolved for one CPU level. Get this machine's with [`kernels`] and keep
/// the function pointers: calling them does no further dispatch.
#[derive(Debug, Clone, Copy)]
pub struct Kernels {
    /// The level these kernels were resolved for (a few keep a narrower copy where it measured
    /// faster, e.g. float16 on AVX-512).
    pub level: Level,
    /// Squared L2 distance of two float32 vectors.
    pub l2_f32: Kernel<f32>,
    /// Inner product of two float32 vectors.
    pub ip_f32: Kernel<f32>,
    /// Cosine similarity of two float32 vectors.
    pub cosine_f32: Kernel<f32>,
    /// Squared L2 distance of two float16 vectors (as their bits).
    pub l2_f16: Kernel<u16>,
    /// Inner product of two float16 vectors (as their bits).
    pub ip_f16: Kernel<u16>,
    /// Cosine similarity of two float16 vectors (as their bits).
    pub cosine_f16: Kernel<u16>,
    /// Squared L2 distance of two bfloat16 vectors (as their bits).
    pub l2_bf16: Kernel<u16>,
    /// Inner product of two bfloat16 vectors (as their bits).
    pub ip_bf16: Kernel<u16>,
    /// Cosine similarity of two bfloat16 vectors (as their bits).
    pub cosine_bf16: Kernel<u16>,
    /// Squared L2 distance of two int8 vectors.
    pub l2_i8: Kernel<i8>,
    /// Inner product of two int8 vectors.
    pub ip_i8: Kernel<i8>,
    /// Cosine similarity of two int8 vectors.
    pub cosine_i8: Kernel<i8>,
    /// Number of differing bits of two binary vectors.
    pub hamming: Kernel<u8>,
    /// Jaccard distance of two binary vectors.
    pub jaccard: Kernel<u8>,
    /// Squared L2 distances from one float32 query to contiguous vectors.
    pub l2_f32_many: ManyKernel,
    /// Inner products of one float32 query with contiguous vectors.
    pub ip_f32_many: ManyKernel,
    /// Cosine similarities of one float32 query with contiguous vectors.
    pub cosine_f32_many: ManyKernel,
    /// `sum w[i] * c[i]` of float32 weights and byte codes (scalar-quantized vectors).
    pub dot_u8: fn(&[f32], &[u8]) -> f32,
}

impl Kernels {
    /// The float32 kernel for `metric`.
    pub fn f32(&self, metric: Metric) -> Kernel<f32> {
        match metric {
            Metric::L2 => self.l2_f32,
            Metric::Ip => self.ip_f32,
            Metric::Cosine => self.cosine_f32,
        }
    }

    /// The float16 kernel for `metric`.
    pub fn f16(&self, metric: Metric) -> Kernel<u16> {
        match metric {
            Metric::L2 => self.l2_f16,
            Metric::Ip => self.ip_f16,
            Metric::Cosine => self.cosine_f16,
        }
    }

    /// The bfloat16 kernel for `metric`.
    pub fn bf16(&self, metric: Metric) -> Kernel<u16> {
        match metric {
            Metric::L2 => self.l2_bf16,
            Metric::Ip => self.ip_bf16,
            Metric::Cosine => self.cosine_bf16,
        }
    }

    /// The int8 kernel for `metric`.
    pub fn i8(&self, metric: Metric) -> Kernel<i8> {
        match metric {
            Metric::L2 => self.l2_i8,
            Metric::Ip => self.ip_i8,
            Metric::Cosine => self.cosine_i8,
        }
    }

    /// The float32 batch kernel for `metric`.
    pub fn f32_many(&self, metric: Metric) -> ManyKernel {
        match metric {
            Metric::L2 => self.l2_f32_many,
            Metric::Ip => self.ip_f32_many,
            Metric::Cosine => self.cosine_f32_many,
        }
    }
}

/// This machine's kernels, resolved once from [`cpu::level`].
#[inline]
pub fn kernels() -> &'static Kernels {
    static KERNELS: OnceLock<Kernels> = OnceLock::new();
    KERNELS.get_or_init(|| resolve(cpu::level()))
}

/// The widest copy allowed by `level` whose features this CPU has.
fn resolve(level: Level) -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        let simd = match level {
            Level::Avx512 => avx512::kernels().or_else(avx2::kernels),
            Level::Avx2 => avx2::kernels(),
            Level::Baseline => None,
        };
        if let Some(k) = simd {
            return k;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = level;
    portable::KERNELS
}

/// This machine's float32 kernel for `metric`.
pub fn f32_kernel(metric: Metric) -> Kernel<f32> {
    kernels().f32(metric)
}

/// This machine's float16 kernel for `metric`.
pub fn f16_kernel(metric: Metric) -> Kernel<u16> {
    kernels().f16(metric)
}

/// This machine's bfloat16 kernel for `metric`.
pub fn bf16_kernel(metric: Metric) -> Kernel<u16> {
    kernels().bf16(metric)
}

/// This machine's int8 kernel for `metric`.
pub fn i8_kernel(metric: Metric) -> Kernel<i8> {
    kernels().i8(metric)
}

/// This machine's float32 batch kernel for `metric`.
pub fn f32_many_kernel(metric: Metric) -> ManyKernel {
    kernels().f32_many(metric)
}

/// This machine's squared-L2 float32 kernel.
pub fn l2_f32_kernel() -> Kernel<f32> {
    kernels().l2_f32
}

/// This machine's inner-product float32 kernel.
pub fn ip_f32_kernel() -> Kernel<f32> {
    kernels().ip_f32
}

/// This machine's cosine float32 kernel.
pub fn cosine_f32_kernel() -> Kernel<f32> {
    kernels().cosine_f32
}

/// Free functions calling this machine's kernel of the same name.
macro_rules! dispatch {
    ($($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            (kernels().$name)($($arg),*)
        }
    )*};
}

dispatch! {
    /// `sum w[i] * c[i]` over the shorter length: float32 weights against byte codes, the
    /// inner loop of scalar-quantized distances (HNSW_SQ).
    dot_u8(w: &[f32], c: &[u8]) -> f32;
    /// Squared L2 distance of two float32 vectors.
    l2_f32(a: &[f32], b: &[f32]) -> f32;
    /// Inner product of two float32 vectors.
    ip_f32(a: &[f32], b: &[f32]) -> f32;
    /// Cosine similarity of two float32 vectors (0 when either is all zeros).
    cosine_f32(a: &[f32], b: &[f32]) -> f32;
    /// Squared L2 distance of two float16 vectors (as their bits).
    l2_f16(a: &[u16], b: &[u16]) -> f32;
    /// Inner product of two float16 vectors (as their bits).
    ip_f16(a: &[u16], b: &[u16]) -> f32;
    /// Cosine similarity of two float16 vectors (as their bits).
    cosine_f16(a: &[u16], b: &[u16]) -> f32;
    /// Squared L2 distance of two bfloat16 vectors (as their bits).
    l2_bf16(a: &[u16], b: &[u16]) -> f32;
    /// Inner product of two bfloat16 vectors (as their bits).
    ip_bf16(a: &[u16], b: &[u16]) -> f32;
    /// Cosine similarity of two bfloat16 vectors (as their bits).
    cosine_bf16(a: &[u16], b: &[u16]) -> f32;
    /// Squared L2 distance of two int8 vectors (summed exactly).
    l2_i8(a: &[i8], b: &[i8]) -> f32;
    /// Inner product of two int8 vectors (summed exactly).
    ip_i8(a: &[i8], b: &[i8]) -> f32;
    /// Cosine similarity of two int8 vectors.
    cosine_i8(a: &[i8], b: &[i8]) -> f32;
    /// Number of differing bits of two binary vectors (bytes).
    hamming(a: &[u8], b: &[u8]) -> f32;
    /// Jaccard distance of two binary vectors: `1 - |a & b| / |a | b|` (0 when both are
    /// empty).
    jaccard(a: &[u8], b: &[u8]) -> f32;
    /// Squared L2 distances from `query` to the `out.len()` vectors of `dim` values laid
    /// out one after another in `data`: `out[i] = l2_f32(query, &data[i * dim..][..dim])`
    /// up to float rounding (see [`ManyKernel`]).
    ///
    /// # Panics
    ///
    /// When `data` holds fewer than `out.len() * dim` values.
    l2_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]);
    /// Inner products of `query` with the `out.len()` vectors of `dim` values laid out one
    /// after another in `data`: `out[i] = ip_f32(query, &data[i * dim..][..dim])` up to
    /// float rounding (see [`ManyKernel`]). With precomputed norms this is also cosine:
    /// `ip / (|query| |v|)`.
    ///
    /// # Panics
    ///
    /// When `data` holds fewer than `out.len() * dim` values.
    ip_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]);
    /// Cosine similarities of `query` with the `out.len()` vectors of `dim` values laid out
    /// one after another in `data`: `out[i] = cosine_f32(query, &data[i * dim..][..dim])` up
    /// to float rounding (the query's norm is computed once; see [`ManyKernel`]).
    ///
    /// # Panics
    ///
    /// When `data` holds fewer than `out.len() * dim` values.
    cosine_f32_many(query: &[f32], data: &[f32], dim: usize, out: &mut [f32]);
}

/// IEEE half precision bits to f32.
#[inline(always)]
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits & 0x8000) << 16;
    let exp = u32::from((bits >> 10) & 0x1f);
    let mant = u32::from(bits & 0x3ff);
    let out = if exp == 0 {
        // Zero or subnormal: mant x 2^-24, exact in f32.
        let v = mant as f32 * f32::from_bits(0x3380_0000);
        return if sign != 0 { -v } else { v };
    } else if exp == 0x1f {
        sign | 0x7f80_0000 | (mant << 13)
    } else {
        sign | ((exp + 127 - 15) << 23) | (mant << 13)
    };
    f32::from_bits(out)
}

/// bfloat16 bits to f32 (the high half of an f32).
#[inline(always)]
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// Cosine from `a·b`, `a·a` and `b·b` (0 when either norm is 0). The norms are taken apart,
/// so that large vectors do not overflow their product; in f32, whose `sqrt` and division
/// are much quicker than f64's.
#[inline(always)]
fn cosine_of(ab: f32, aa: f32, bb: f32) -> f32 {
    let norms = aa.sqrt() * bb.sqrt();
    if norms > 0.0 {
        ab / norms
    } else {
        0.0
    }
}

/// Runs `f` on the `out.len()` rows of `dim` values in `data`, four at a time, writing
/// `out`; `f` gets the query cut to `dim` and four rows. A last group of fewer than four is
/// padded with its last row (each row's sums must depend only on that row, so that a
/// vector's distance does not depend on its neighbours).
///
/// # Panics
///
/// When `data` holds fewer than `out.len() * dim` values.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn for_row_quads(
    query: &[f32],
    data: &[f32],
    dim: usize,
    out: &mut [f32],
    f: impl Fn(&[f32], [&[f32]; 4]) -> [f32; 4],
) {
    let Some(data) = dim.checked_mul(out.len()).and_then(|need| data.get(..need)) else {
        rows_too_short(data.len(), dim, out.len())
    };
    let q = &query[..query.len().min(dim)];
    if dim == 0 {
        out.fill(f(q, [&[]; 4])[0]);
        return;
    }
    let (quads, rest) = out.as_chunks_mut::<4>();
    let (whole, tail) = data.split_at(quads.len() * 4 * dim);
    for (o, block) in quads.iter_mut().zip(whole.chunks_exact(4 * dim)) {
        let (r0, block) = block.split_at(dim);
        let (r1, block) = block.split_at(dim);
        let (r2, r3) = block.split_at(dim);
        *o = f(q, [r0, r1, r2, r3]);
    }
    if let Some(last) = tail.rchunks_exact(dim).next() {
        let rows = std::array::from_fn(|i| tail.get(i * dim..(i + 1) * dim).unwrap_or(last));
        let d = f(q, rows);
        rest.copy_from_slice(&d[..rest.len()]);
    }
}

/// Runs `f` on each of the `out.len()` rows of `dim` values in `data`, writing `out`.
///
/// # Panics
///
/// When `data` holds fewer than `out.len() * dim` values.
#[inline(always)]
fn for_rows(data: &[f32], dim: usize, out: &mut [f32], f: impl Fn(&[f32]) -> f32) {
    if dim
        .checked_mul(out.len())
        .is_none_or(|need| data.len() < need)
    {
        rows_too_short(data.len(), dim, out.len());
    }
    if dim == 0 {
        out.fill(f(&[]));
        return;
    }
    for (o, row) in out.iter_mut().zip(data.chunks_exact(dim)) {
        *o = f(row);
    }
}

#[cold]
#[inline(never)]
fn rows_too_short(len: usize, dim: usize, rows: usize) -> ! {
    panic!("distance batch: {rows} vectors of {dim} values need more than the {len} given")
}
