//! Compiles the gRPC contract in `proto/` and writes its descriptor set, which serves server
//! reflection and lets the API's codec reject requests that carry unknown fields.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // Every .proto of the contract, in a stable order (new services need no edit here).
    let mut protos: Vec<PathBuf> = std::fs::read_dir("proto/vigil/v1")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    protos.sort();
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("vigil_v1_descriptor.bin"))
        .codec_path("crate::api::codec::StrictCodec")
        .compile_with_config(config, &protos, &[PathBuf::from("proto")])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
