//! Compiles the gRPC contract in `proto/` and writes its descriptor set, which serves server
//! reflection and lets the API's codec reject requests that carry unknown fields.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let protos = ["proto/vigil/v1/camera.proto"];
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("vigil_v1_descriptor.bin"))
        .codec_path("crate::api::codec::StrictCodec")
        .compile_with_config(config, &protos, &["proto"])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
