//! Insert load generator: the server alone, without pymilvus's encoding in the way.
//!
//! Connects to a running Milvus-protocol server (rivus or Milvus Lite), creates a collection
//! (`id` INT64 primary key, `vec` FLOAT_VECTOR, `n` INT64, `s` VARCHAR(64); FLAT index; loaded),
//! pre-encodes every `InsertRequest` to its protobuf bytes (timed: the client's encode-only
//! cost), then sends the bytes as they are (raw tonic, a pass-through codec) over 1 and over
//! several concurrent connections, one fresh collection per run. Prints rows/s for encoding and
//! for each run, and the ratio of insert time to encode time.
//!
//! ```sh
//! cargo run --release -p rivus-server --example insert_load -- \
//!     --addr http://127.0.0.1:19530 --rows 1000000 --batch 10000 --dim 128 --streams 1,4
//! ```
//!
//! Options: `--addr URL`, `--rows N` (per run), `--batch B` (rows per request), `--dim D`,
//! `--streams 1,4` (concurrent connections per run), `--prefix NAME` (collection names),
//! `--keep` (leave the collections; they are dropped at the end otherwise).

use std::sync::Arc;
use std::time::{Duration, Instant};

use milvus::proto::common::{KeyValuePair, Status};
use milvus::proto::milvus::milvus_service_client::MilvusServiceClient;
use milvus::proto::milvus::{
    CreateCollectionRequest, CreateIndexRequest, DropCollectionRequest, FlushRequest,
    InsertRequest, LoadCollectionRequest, MutationResult,
};
use milvus::proto::schema::{
    self as pb, field_data, scalar_field, vector_field, FieldData, ScalarField, VectorField,
};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::Bytes;
use tonic::transport::{Channel, Endpoint};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Sends `Bytes` as they are (already a serialized message); decodes the reply with prost.
struct RawCodec<T>(std::marker::PhantomData<T>);

struct RawEncoder;
struct ProstDecoder<T>(std::marker::PhantomData<T>);

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl<T: Message + Default> Decoder for ProstDecoder<T> {
    type Item = T;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<T>, tonic::Status> {
        T::decode(src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl<T: Message + Default + Send + 'static> Codec for RawCodec<T> {
    type Encode = Bytes;
    type Decode = T;
    type Encoder = RawEncoder;
    type Decoder = ProstDecoder<T>;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> ProstDecoder<T> {
        ProstDecoder(std::marker::PhantomData)
    }
}

struct Args {
    addr: String,
    rows: usize,
    batch: usize,
    dim: usize,
    streams: Vec<usize>,
    prefix: String,
    keep: bool,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut a = Args {
        addr: "http://127.0.0.1:19530".into(),
        rows: 1_000_000,
        batch: 10_000,
        dim: 128,
        streams: vec![1, 4],
        prefix: "insert_load".into(),
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => a.addr = value()?,
            "--rows" => a.rows = value()?.replace('_', "").parse()?,
            "--batch" => a.batch = value()?.replace('_', "").parse()?,
            "--dim" => a.dim = value()?.parse()?,
            "--streams" => {
                a.streams = value()?
                    .split(',')
                    .map(|s| s.trim().parse())
                    .collect::<Result<_, _>>()?
            }
            "--prefix" => a.prefix = value()?,
            "--keep" => a.keep = true,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if !a.addr.contains("://") {
        a.addr = format!("http://{}", a.addr);
    }
    Ok(a)
}

// Milvus Lite may still set only the deprecated `error_code`.
#[allow(deprecated)]
fn check(status: Option<Status>, what: &str) -> Result<(), BoxError> {
    match status {
        Some(s) if s.code != 0 || s.error_code != 0 => {
            Err(format!("{what} failed: code {} {}", s.code, s.reason).into())
        }
        _ => Ok(()),
    }
}

fn kv(key: &str, value: &str) -> KeyValuePair {
    KeyValuePair {
        key: key.into(),
        value: value.into(),
    }
}

fn field(name: &str, data_type: pb::DataType, params: Vec<KeyValuePair>) -> pb::FieldSchema {
    pb::FieldSchema {
        name: name.into(),
        data_type: data_type as i32,
        is_primary_key: name == "id",
        type_params: params,
        ..Default::default()
    }
}

async fn create_collection(
    client: &mut MilvusServiceClient<Channel>,
    name: &str,
    dim: usize,
) -> Result<(), BoxError> {
    let drop = client
        .drop_collection(DropCollectionRequest {
            collection_name: name.into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let _ = drop; // missing collection: fine
    let schema = pb::CollectionSchema {
        name: name.into(),
        fields: vec![
            field("id", pb::DataType::Int64, vec![]),
            field(
                "vec",
                pb::DataType::FloatVector,
                vec![kv("dim", &dim.to_string())],
            ),
            field("n", pb::DataType::Int64, vec![]),
            field("s", pb::DataType::VarChar, vec![kv("max_length", "64")]),
        ],
        ..Default::default()
    };
    let r = client
        .create_collection(CreateCollectionRequest {
            collection_name: name.into(),
            schema: schema.encode_to_vec(),
            shards_num: 1,
            ..Default::default()
        })
        .await?
        .into_inner();
    check(Some(r), "CreateCollection")?;
    let r = client
        .create_index(CreateIndexRequest {
            collection_name: name.into(),
            field_name: "vec".into(),
            index_name: "vec".into(),
            extra_params: vec![
                kv("index_type", "FLAT"),
                kv("metric_type", "L2"),
                kv("params", "{}"),
            ],
            ..Default::default()
        })
        .await?
        .into_inner();
    check(Some(r), "CreateIndex")?;
    let r = client
        .load_collection(LoadCollectionRequest {
            collection_name: name.into(),
            replica_number: 1,
            ..Default::default()
        })
        .await?
        .into_inner();
    check(Some(r), "LoadCollection")?;
    Ok(())
}

/// Deterministic pseudo-random numbers (splitmix64), so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Raw columns of one batch, as an application would hold them before encoding.
struct RawBatch {
    ids: Vec<i64>,
    vecs: Vec<f32>,
    ns: Vec<i64>,
    ss: Vec<String>,
}

fn raw_batches(rows: usize, batch: usize, dim: usize) -> Vec<RawBatch> {
    let mut rng = Rng(42);
    let mut out = Vec::new();
    let mut start = 0;
    while start < rows {
        let b = batch.min(rows - start);
        let ids: Vec<i64> = (start..start + b).map(|i| i as i64).collect();
        let vecs: Vec<f32> = (0..b * dim)
            .map(|_| (rng.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect();
        let ns: Vec<i64> = (0..b).map(|_| (rng.next() % rows as u64) as i64).collect();
        let ss: Vec<String> = (0..b)
            .map(|_| {
                let r = rng.next();
                (0..10)
                    .map(|k| (b'a' + ((r >> (k * 5)) % 26) as u8) as char)
                    .collect()
            })
            .collect();
        out.push(RawBatch { ids, vecs, ns, ss });
        start += b;
    }
    out
}

/// Builds and serializes one InsertRequest (the client's whole encode cost).
fn encode(collection: &str, b: &RawBatch, dim: usize) -> Bytes {
    let scalar = |name: &str, t: pb::DataType, data: scalar_field::Data| FieldData {
        r#type: t as i32,
        field_name: name.into(),
        field: Some(field_data::Field::Scalars(ScalarField {
            data: Some(data),
            ..Default::default()
        })),
        ..Default::default()
    };
    let req = InsertRequest {
        collection_name: collection.into(),
        num_rows: b.ids.len() as u32,
        fields_data: vec![
            scalar(
                "id",
                pb::DataType::Int64,
                scalar_field::Data::LongData(pb::LongArray {
                    data: b.ids.clone(),
                }),
            ),
            FieldData {
                r#type: pb::DataType::FloatVector as i32,
                field_name: "vec".into(),
                field: Some(field_data::Field::Vectors(VectorField {
                    dim: dim as i64,
                    data: Some(vector_field::Data::FloatVector(pb::FloatArray {
                        data: b.vecs.clone(),
                    })),
                    ..Default::default()
                })),
                ..Default::default()
            },
            scalar(
                "n",
                pb::DataType::Int64,
                scalar_field::Data::LongData(pb::LongArray { data: b.ns.clone() }),
            ),
            scalar(
                "s",
                pb::DataType::VarChar,
                scalar_field::Data::StringData(pb::StringArray { data: b.ss.clone() }),
            ),
        ],
        ..Default::default()
    };
    Bytes::from(req.encode_to_vec())
}

async fn send_all(
    endpoint: Endpoint,
    requests: Arc<Vec<Bytes>>,
    streams: usize,
) -> Result<Duration, BoxError> {
    let mut channels = Vec::new();
    for _ in 0..streams {
        channels.push(endpoint.connect().await?);
    }
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for ch in channels {
        let requests = Arc::clone(&requests);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut grpc = tonic::client::Grpc::new(ch)
                .max_decoding_message_size(256 << 20)
                .max_encoding_message_size(256 << 20);
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(req) = requests.get(i) else {
                    return Ok::<(), BoxError>(());
                };
                grpc.ready().await?;
                let path = PathAndQuery::from_static("/milvus.proto.milvus.MilvusService/Insert");
                let reply: MutationResult = grpc
                    .unary(
                        tonic::Request::new(req.clone()),
                        path,
                        RawCodec::<MutationResult>(std::marker::PhantomData),
                    )
                    .await?
                    .into_inner();
                check(reply.status, "Insert")?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(t0.elapsed())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = parse_args()?;
    let endpoint = Endpoint::from_shared(args.addr.clone())?.tcp_nodelay(true);
    let mut client = MilvusServiceClient::new(endpoint.connect().await?)
        .max_decoding_message_size(256 << 20)
        .max_encoding_message_size(256 << 20);

    let raw = raw_batches(args.rows, args.batch, args.dim);
    println!(
        "insert_load: {} rows x {}-d per run, batches of {}, {} requests, server {}",
        args.rows,
        args.dim,
        args.batch,
        raw.len(),
        args.addr
    );

    for &streams in &args.streams {
        let name = format!("{}_{}s", args.prefix, streams);
        create_collection(&mut client, &name, args.dim).await?;
        // Encode-only: build + serialize every request, one thread (as one client does).
        let t0 = Instant::now();
        let requests: Vec<Bytes> = raw.iter().map(|b| encode(&name, b, args.dim)).collect();
        let enc = t0.elapsed();
        let bytes: usize = requests.iter().map(|r| r.len()).sum();
        let sent = send_all(endpoint.clone(), Arc::new(requests), streams).await?;
        let t1 = Instant::now();
        let r = client
            .flush(FlushRequest {
                collection_names: vec![name.clone()],
                ..Default::default()
            })
            .await?
            .into_inner();
        check(r.status, "Flush")?;
        let flush = t1.elapsed();
        let rows = args.rows as f64;
        println!(
            "RESULT streams={streams} rows={} batch={} dim={} encode_s={:.3} encode_rows_s={:.0} \
             insert_s={:.3} insert_rows_s={:.0} insert_over_encode={:.2} mb_s={:.0} flush_s={:.3}",
            args.rows,
            args.batch,
            args.dim,
            enc.as_secs_f64(),
            rows / enc.as_secs_f64(),
            sent.as_secs_f64(),
            rows / sent.as_secs_f64(),
            sent.as_secs_f64() / enc.as_secs_f64(),
            bytes as f64 / 1e6 / sent.as_secs_f64(),
            flush.as_secs_f64(),
        );
        if !args.keep {
            client
                .drop_collection(DropCollectionRequest {
                    collection_name: name.clone(),
                    ..Default::default()
                })
                .await?;
        }
    }
    Ok(())
}
