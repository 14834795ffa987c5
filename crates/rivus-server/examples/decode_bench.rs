//! How long prost takes to decode a 10k x 384 InsertRequest from a contiguous buffer.
use milvus::proto::milvus::InsertRequest;
use milvus::proto::schema::{self as pb, field_data, vector_field, FieldData, VectorField};
use prost::Message;
use std::time::Instant;

fn main() {
    let n = 10_000usize;
    let dim = 384usize;
    let floats: Vec<f32> = (0..n * dim).map(|i| (i % 1000) as f32 * 0.001).collect();
    let req = InsertRequest {
        collection_name: "c".into(),
        num_rows: n as u32,
        fields_data: vec![FieldData {
            r#type: pb::DataType::FloatVector as i32,
            field_name: "vec".into(),
            field: Some(field_data::Field::Vectors(VectorField {
                dim: dim as i64,
                data: Some(vector_field::Data::FloatVector(pb::FloatArray {
                    data: floats,
                })),
                ..Default::default()
            })),
            ..Default::default()
        }],
        ..Default::default()
    };
    let bytes = req.encode_to_vec();
    for _ in 0..3 {
        let t = Instant::now();
        let r = InsertRequest::decode(bytes.as_slice()).unwrap();
        let slice = t.elapsed();
        let b = prost::bytes::Bytes::from(bytes.clone());
        let t = Instant::now();
        let r2 = InsertRequest::decode(b).unwrap();
        let from_bytes = t.elapsed();
        let t = Instant::now();
        let v: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let bulk = t.elapsed();
        println!(
            "{} MB: prost from &[u8] {:?}, from Bytes {:?}, bulk convert {:?} ({} {} {})",
            bytes.len() >> 20,
            slice,
            from_bytes,
            bulk,
            r.num_rows,
            r2.num_rows,
            v.len()
        );
    }
}
