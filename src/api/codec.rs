//! The gRPC codec of vigil's services: prost encoding, plus two checks on every decoded message
//! that prost alone does not make. A message larger than the configured limit, or one carrying a
//! field the contract does not define (at any depth), is rejected with `INVALID_ARGUMENT` naming
//! the message and field number, before any handler runs: a client built against a newer or wrong
//! contract learns so instead of having its fields silently dropped.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use prost::Message;
use prost::bytes::Buf;
use prost_types::field_descriptor_proto::Type;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// The descriptor set of `proto/` (with imports), built by `build.rs`.
pub const DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/vigil_v1_descriptor.bin"));

static MAX_MESSAGE_BYTES: AtomicUsize = AtomicUsize::new(1 << 20);

/// Sets the largest message the codec accepts (from `server.max_request_bytes`).
pub fn set_max_message_bytes(n: usize) {
    MAX_MESSAGE_BYTES.store(n, Ordering::Relaxed);
}

/// Field numbers, and for message-typed fields the message's full name, per message type.
type Schema = HashMap<String, HashMap<i32, Option<String>>>;

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let fds = prost_types::FileDescriptorSet::decode(DESCRIPTOR_SET)
            .expect("descriptor set built by build.rs");
        let mut out = Schema::new();
        fn add(out: &mut Schema, prefix: &str, m: &prost_types::DescriptorProto) {
            let name = format!("{prefix}.{}", m.name());
            let fields = m
                .field
                .iter()
                .map(|f| {
                    let nested = (f.r#type() == Type::Message)
                        .then(|| f.type_name().trim_start_matches('.').to_string());
                    (f.number(), nested)
                })
                .collect();
            for n in &m.nested_type {
                add(out, &name, n);
            }
            out.insert(name, fields);
        }
        for file in &fds.file {
            for m in &file.message_type {
                add(&mut out, file.package(), m);
            }
        }
        out
    })
}

fn read_varint(buf: &mut &[u8]) -> Option<u64> {
    prost::encoding::decode_varint(buf).ok()
}

/// Walks the wire format of a message of type `name`, failing on a field number it does not define.
fn check_known_fields(name: &str, mut buf: &[u8], depth: usize) -> Result<(), String> {
    let Some(fields) = schema().get(name) else {
        return Ok(());
    };
    if depth > 32 {
        return Err("message nesting is too deep".into());
    }
    while !buf.is_empty() {
        let key = read_varint(&mut buf).ok_or("malformed message")?;
        let (number, wire) = ((key >> 3) as i32, key & 7);
        let Some(nested) = fields.get(&number) else {
            return Err(format!(
                "{name} has no field number {number}: the request does not match the vigil.v1 contract"
            ));
        };
        match wire {
            0 => {
                read_varint(&mut buf).ok_or("malformed varint")?;
            }
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                if buf.len() < n {
                    return Err("truncated message".into());
                }
                buf.advance(n);
            }
            2 => {
                let len = read_varint(&mut buf).ok_or("malformed length")? as usize;
                if buf.len() < len {
                    return Err("truncated message".into());
                }
                if let Some(inner) = nested {
                    check_known_fields(inner, &buf[..len], depth + 1)?;
                }
                buf.advance(len);
            }
            _ => {
                return Err(format!(
                    "{name} field {number}: unsupported wire type {wire}"
                ));
            }
        }
    }
    Ok(())
}

/// prost encoding with vigil's request checks; used by the generated services and clients.
#[derive(Debug, Clone)]
pub struct StrictCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for StrictCodec<T, U> {
    fn default() -> Self {
        StrictCodec(PhantomData)
    }
}

impl<T, U> Codec for StrictCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + prost::Name + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = StrictEncoder<T>;
    type Decoder = StrictDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        StrictEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrictDecoder(PhantomData)
    }
}

#[derive(Debug)]
pub struct StrictEncoder<T>(PhantomData<T>);

impl<T: Message> Encoder for StrictEncoder<T> {
    type Item = T;
    type Error = Status;

    fn encode(&mut self, item: T, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(buf)
            .map_err(|e| Status::internal(format!("encoding response: {e}")))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

#[derive(Debug)]
pub struct StrictDecoder<U>(PhantomData<U>);

impl<U: Message + prost::Name + Default> Decoder for StrictDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let len = buf.remaining();
        let max = MAX_MESSAGE_BYTES.load(Ordering::Relaxed);
        if len > max {
            return Err(Status::invalid_argument(format!(
                "{}: message of {len} bytes exceeds the limit of {max} bytes",
                U::full_name()
            )));
        }
        let bytes = buf.copy_to_bytes(len);
        check_known_fields(&U::full_name(), &bytes, 0).map_err(Status::invalid_argument)?;
        U::decode(bytes)
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("{}: {e}", U::full_name())))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pb;

    #[test]
    fn known_fields_pass_and_unknown_fields_are_named() {
        let req = pb::CreateCameraRequest {
            camera_id: "a".into(),
            camera: Some(pb::Camera {
                url: "rtsp://h/x".into(),
                rules: vec![pb::Rule {
                    params: [("dx".to_string(), 0.0)].into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        };
        let mut bytes = req.encode_to_vec();
        check_known_fields("vigil.v1.CreateCameraRequest", &bytes, 0).unwrap();
        // field 99 (varint 1) at top level
        bytes.extend_from_slice(&[0x98, 0x06, 0x01]);
        let e = check_known_fields("vigil.v1.CreateCameraRequest", &bytes, 0).unwrap_err();
        assert!(
            e.contains("vigil.v1.CreateCameraRequest has no field number 99"),
            "{e}"
        );
        // an unknown field inside the nested Location
        let loc = [0x98, 0x06, 0x01]; // field 99 varint
        let mut cam = vec![0x42, loc.len() as u8]; // Camera.location = field 8, length-delimited
        cam.extend_from_slice(&loc);
        let mut req = vec![0x12, cam.len() as u8]; // CreateCameraRequest.camera = field 2
        req.extend_from_slice(&cam);
        let e = check_known_fields("vigil.v1.CreateCameraRequest", &req, 0).unwrap_err();
        assert!(
            e.contains("vigil.v1.Location has no field number 99"),
            "{e}"
        );
    }
}
