//! The camera registry over a real gRPC connection: an in-process server on a loopback port with a
//! SQLite file in a temporary directory, driven by the generated tonic client.

mod common;

use std::time::Duration;

use prost::Message;
use tonic::Code;
use tonic::transport::Channel;
use vigil::api::pb;
use vigil::api::pb::camera_service_client::CameraServiceClient;
use vigil::server::{self, Running};

struct TestServer {
    running: Running,
    _dir: tempfile::TempDir,
}

async fn start() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let settings = common::loopback(dir.path().to_path_buf());
    let running = server::start(&settings).await.unwrap();
    TestServer { running, _dir: dir }
}

impl TestServer {
    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.running.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn client(&self) -> CameraServiceClient<Channel> {
        CameraServiceClient::new(self.channel().await)
    }
}

fn point(x: f64, y: f64) -> pb::Point {
    pb::Point { x, y }
}

fn valid_camera() -> pb::Camera {
    pb::Camera {
        display_name: "Nguyen Hue gate".into(),
        url: "rtsp://192.0.2.10:554/Streaming/Channels/101".into(),
        location: Some(pb::Location {
            latitude: 10.7769,
            longitude: 106.7009,
            address: "Nguyen Hue, Q1".into(),
        }),
        analysis_fps: 5.0,
        zones: vec![pb::Zone {
            id: "lawn".into(),
            display_name: "Lawn".into(),
            polygon: vec![
                point(0.1, 0.5),
                point(0.9, 0.5),
                point(0.9, 0.95),
                point(0.1, 0.95),
            ],
        }],
        lines: vec![pb::Line {
            id: "stop-line".into(),
            a: Some(point(0.0, 0.6)),
            b: Some(point(1.0, 0.6)),
            ..Default::default()
        }],
        rules: vec![pb::Rule {
            id: "no-walking".into(),
            kind: pb::IncidentKind::Intrusion as i32,
            zone_id: "lawn".into(),
            classes: vec!["person".into()],
            params: [("min_duration_s".to_string(), 1.0)].into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn create(
    c: &mut CameraServiceClient<Channel>,
    id: &str,
    cam: pb::Camera,
) -> Result<pb::Camera, tonic::Status> {
    c.create_camera(pb::CreateCameraRequest {
        camera_id: id.into(),
        camera: Some(cam),
    })
    .await
    .map(|r| r.into_inner())
}

async fn all_ids(c: &mut CameraServiceClient<Channel>) -> Vec<String> {
    let r = c
        .list_cameras(pb::ListCamerasRequest {
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .unwrap();
    r.into_inner().cameras.into_iter().map(|c| c.name).collect()
}

#[tokio::test]
async fn create_get_list_update_delete() {
    let s = start().await;
    let mut c = s.client().await;
    let created = create(&mut c, "gate-1", valid_camera()).await.unwrap();
    assert_eq!(created.name, "cameras/gate-1");
    assert_eq!(
        created.enabled,
        Some(true),
        "cameras are enabled unless the request says otherwise"
    );
    assert_eq!(created.zones, valid_camera().zones);
    assert_eq!(created.rules, valid_camera().rules);
    assert!(created.create_time.is_some());

    let got = c
        .get_camera(pb::GetCameraRequest {
            name: "cameras/gate-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, created);

    let err = create(&mut c, "gate-1", valid_camera()).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    for i in 0..6 {
        create(&mut c, &format!("cam-{i}"), valid_camera())
            .await
            .unwrap();
    }
    // Paging: 7 cameras in pages of 3 -> 3, 3, 1, in id order, no repeats.
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let r = c
            .list_cameras(pb::ListCamerasRequest {
                page_size: 3,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(r.cameras.len() <= 3);
        seen.extend(r.cameras.into_iter().map(|c| c.name));
        if r.next_page_token.is_empty() {
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!(pages, 3);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 7);

    // Update only the display name and the enabled flag: everything else stays.
    let mut patch = pb::Camera {
        name: "cameras/gate-1".into(),
        display_name: "renamed".into(),
        enabled: Some(false),
        ..Default::default()
    };
    let mask = prost_types::FieldMask {
        paths: vec!["display_name".into(), "enabled".into()],
    };
    let updated = c
        .update_camera(pb::UpdateCameraRequest {
            camera: Some(patch.clone()),
            update_mask: Some(mask),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.display_name, "renamed");
    assert_eq!(updated.enabled, Some(false));
    assert_eq!(updated.zones, created.zones);
    assert_eq!(updated.url, created.url);

    // Update zones and rules together (a rule pointing at a new zone).
    patch.zones = vec![pb::Zone {
        id: "road".into(),
        polygon: vec![point(0.0, 0.0), point(1.0, 0.0), point(0.5, 0.4)],
        ..Default::default()
    }];
    patch.rules = vec![pb::Rule {
        id: "ped".into(),
        kind: pb::IncidentKind::PedestrianOnRoad as i32,
        zone_id: "road".into(),
        ..Default::default()
    }];
    let mask = prost_types::FieldMask {
        paths: vec!["zones".into(), "rules".into()],
    };
    let updated = c
        .update_camera(pb::UpdateCameraRequest {
            camera: Some(patch),
            update_mask: Some(mask),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.zones[0].id, "road");
    assert_eq!(updated.rules[0].id, "ped");

    c.delete_camera(pb::DeleteCameraRequest {
        name: "cameras/gate-1".into(),
    })
    .await
    .unwrap();
    let err = c
        .get_camera(pb::GetCameraRequest {
            name: "cameras/gate-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .delete_camera(pb::DeleteCameraRequest {
            name: "cameras/gate-1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn invalid_input_is_rejected_naming_the_field_and_stores_nothing() {
    let s = start().await;
    let mut c = s.client().await;
    create(&mut c, "existing", valid_camera()).await.unwrap();
    let before = all_ids(&mut c).await;

    type Mutate = fn(&mut pb::Camera);
    let cases: &[(&str, &str, Mutate)] = &[
        ("malformed url", "camera.url", |c| c.url = "rtsp://".into()),
        ("non-rtsp scheme", "camera.url", |c| {
            c.url = "http://192.0.2.1/stream".into()
        }),
        ("empty url", "camera.url", |c| c.url = String::new()),
        ("polygon with 2 points", "camera.zones[0].polygon", |c| {
            c.zones[0].polygon.truncate(2)
        }),
        (
            "self-intersecting polygon",
            "camera.zones[0].polygon",
            |c| {
                c.zones[0].polygon = vec![
                    point(0.1, 0.1),
                    point(0.9, 0.9),
                    point(0.9, 0.1),
                    point(0.1, 0.9),
                ]
            },
        ),
        ("point out of range", "camera.zones[0].polygon[2]", |c| {
            c.zones[0].polygon[2] = point(1.2, 0.5)
        }),
        ("NaN coordinate", "camera.zones[0].polygon[0]", |c| {
            c.zones[0].polygon[0] = point(f64::NAN, 0.5)
        }),
        ("rule to a missing zone", "camera.rules[0].zone_id", |c| {
            c.rules[0].zone_id = "nowhere".into()
        }),
        ("rule without kind", "camera.rules[0].kind", |c| {
            c.rules[0].kind = 0
        }),
        ("unknown rule parameter", "camera.rules[0].params", |c| {
            c.rules[0].params.insert("min_duraton_s".into(), 1.0);
        }),
        ("duplicate zone id", "camera.zones[1].id", |c| {
            let z = c.zones[0].clone();
            c.zones.push(z)
        }),
        ("zone and line share an id", "camera.lines[0].id", |c| {
            c.lines[0].id = "lawn".into()
        }),
        ("duplicate rule id", "camera.rules[1].id", |c| {
            let r = c.rules[0].clone();
            c.rules.push(r)
        }),
        ("line with one point twice", "camera.lines[0]", |c| {
            c.lines[0].b = c.lines[0].a
        }),
        ("line without b", "camera.lines[0].b", |c| {
            c.lines[0].b = None
        }),
        ("latitude out of range", "camera.location.latitude", |c| {
            c.location.as_mut().unwrap().latitude = 123.0
        }),
        ("fps too high", "camera.analysis_fps", |c| {
            c.analysis_fps = 500.0
        }),
        ("credentials twice", "camera.credentials", |c| {
            c.url = "rtsp://u:p@192.0.2.1/s".into();
            c.credentials = Some(pb::Credentials {
                username: "u".into(),
                password: "p".into(),
            });
        }),
        ("unknown enum value", "camera.transport", |c| {
            c.transport = 42
        }),
    ];
    for (what, field, mutate) in cases {
        let mut cam = valid_camera();
        mutate(&mut cam);
        let err = create(&mut c, "new-cam", cam).await.expect_err(what);
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
        assert!(
            err.message().starts_with(&format!("{field}:")),
            "{what}: message {:?} should name {field}",
            err.message()
        );
    }
    for (what, id) in [("bad id", "Bad_ID"), ("id too long", &"x".repeat(64)[..])] {
        let err = create(&mut c, id, valid_camera()).await.expect_err(what);
        assert_eq!(err.code(), Code::InvalidArgument, "{what}");
        assert!(
            err.message().starts_with("camera_id:"),
            "{what}: {}",
            err.message()
        );
    }
    let err = c
        .create_camera(pb::CreateCameraRequest {
            camera_id: "x".into(),
            camera: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (Code::InvalidArgument, "camera: required")
    );
    let err = c
        .get_camera(pb::GetCameraRequest {
            name: "cameras/../etc".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = c
        .list_cameras(pb::ListCamerasRequest {
            page_size: 10,
            page_token: "garbage!".into(),
        })
        .await
        .unwrap_err();
    assert!(
        err.message().starts_with("page_token:"),
        "{}",
        err.message()
    );
    let err = c
        .list_cameras(pb::ListCamerasRequest {
            page_size: -1,
            page_token: String::new(),
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("page_size:"), "{}", err.message());

    // Oversize request (the default limit is 1 MiB).
    let mut big = valid_camera();
    big.display_name = "x".repeat(2 << 20);
    let err = create(&mut c, "big", big).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("exceeds the limit"),
        "{}",
        err.message()
    );

    // Invalid updates change nothing either.
    let bad_update = pb::UpdateCameraRequest {
        camera: Some(pb::Camera {
            name: "cameras/existing".into(),
            url: "ftp://x/y".into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["url".into()],
        }),
    };
    let err = c.update_camera(bad_update).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let bad_mask = pb::UpdateCameraRequest {
        camera: Some(pb::Camera {
            name: "cameras/existing".into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["create_time".into()],
        }),
    };
    let err = c.update_camera(bad_mask).await.unwrap_err();
    assert!(
        err.message().starts_with("update_mask.paths[0]:"),
        "{}",
        err.message()
    );
    let unchanged = c
        .get_camera(pb::GetCameraRequest {
            name: "cameras/existing".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged.url, valid_camera().url);

    assert_eq!(
        all_ids(&mut c).await,
        before,
        "nothing may be stored by a rejected request"
    );
}

/// Sends raw bytes as a CreateCameraRequest, to put fields on the wire that the contract lacks.
async fn create_raw(channel: Channel, body: Vec<u8>) -> Result<(), tonic::Status> {
    #[derive(Default, Clone)]
    struct Raw;
    struct RawEnc;
    struct RawDec;
    impl tonic::codec::Encoder for RawEnc {
        type Item = Vec<u8>;
        type Error = tonic::Status;
        fn encode(
            &mut self,
            item: Vec<u8>,
            dst: &mut tonic::codec::EncodeBuf<'_>,
        ) -> Result<(), tonic::Status> {
            prost::bytes::BufMut::put_slice(dst, &item);
            Ok(())
        }
    }
    impl tonic::codec::Decoder for RawDec {
        type Item = Vec<u8>;
        type Error = tonic::Status;
        fn decode(
            &mut self,
            src: &mut tonic::codec::DecodeBuf<'_>,
        ) -> Result<Option<Vec<u8>>, tonic::Status> {
            let n = prost::bytes::Buf::remaining(src);
            Ok(Some(prost::bytes::Buf::copy_to_bytes(src, n).to_vec()))
        }
    }
    impl tonic::codec::Codec for Raw {
        type Encode = Vec<u8>;
        type Decode = Vec<u8>;
        type Encoder = RawEnc;
        type Decoder = RawDec;
        fn encoder(&mut self) -> RawEnc {
            RawEnc
        }
        fn decoder(&mut self) -> RawDec {
            RawDec
        }
    }
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/vigil.v1.CameraService/CreateCamera",
    );
    grpc.unary(tonic::Request::new(body), path, Raw)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn unknown_fields_are_rejected() {
    let s = start().await;
    let good = pb::CreateCameraRequest {
        camera_id: "raw".into(),
        camera: Some(valid_camera()),
    }
    .encode_to_vec();
    // Field 15 of Camera does not exist: wrap it as CreateCameraRequest.camera (field 2).
    let mut cam = valid_camera().encode_to_vec();
    cam.extend_from_slice(&[0x78, 0x01]); // field 15, varint 1
    let mut bad = pb::CreateCameraRequest {
        camera_id: "raw".into(),
        camera: None,
    }
    .encode_to_vec();
    bad.push(0x12);
    prost::encoding::encode_varint(cam.len() as u64, &mut bad);
    bad.extend_from_slice(&cam);
    let err = create_raw(s.channel().await, bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message()
            .contains("vigil.v1.Camera has no field number 15"),
        "{}",
        err.message()
    );
    let mut c = s.client().await;
    assert!(all_ids(&mut c).await.is_empty());
    create_raw(s.channel().await, good).await.unwrap();
    assert_eq!(all_ids(&mut c).await, ["cameras/raw"]);
}

#[tokio::test]
async fn credentials_never_come_back() {
    let s = start().await;
    let mut c = s.client().await;
    let secret = "Pa55-very-secret";
    let mut cam = valid_camera();
    cam.credentials = Some(pb::Credentials {
        username: "admin".into(),
        password: secret.into(),
    });
    let created = create(&mut c, "with-creds", cam).await.unwrap();
    let mut in_url = valid_camera();
    in_url.url = format!("rtsp://operator:{secret}@192.0.2.11:554/live");
    let created2 = create(&mut c, "creds-in-url", in_url).await.unwrap();
    assert!(created.has_credentials && created2.has_credentials);
    assert_eq!(created2.url, "rtsp://192.0.2.11:554/live");

    let got = c
        .get_camera(pb::GetCameraRequest {
            name: "cameras/with-creds".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let listed = c
        .list_cameras(pb::ListCamerasRequest::default())
        .await
        .unwrap()
        .into_inner();
    let patch = pb::Camera {
        name: "cameras/with-creds".into(),
        display_name: "x".into(),
        ..Default::default()
    };
    let updated = c
        .update_camera(pb::UpdateCameraRequest {
            camera: Some(patch),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        updated.has_credentials,
        "updating another field keeps the credentials"
    );
    for (what, bytes) in [
        ("create", created.encode_to_vec()),
        ("create with url credentials", created2.encode_to_vec()),
        ("get", got.encode_to_vec()),
        ("list", listed.encode_to_vec()),
        ("update", updated.encode_to_vec()),
    ] {
        let hay = String::from_utf8_lossy(&bytes);
        assert!(!hay.contains(secret), "{what} response leaks the password");
        assert!(
            !hay.contains("admin") && !hay.contains("operator"),
            "{what} response leaks the username"
        );
    }
}

#[tokio::test]
async fn health_and_reflection_answer() {
    let s = start().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(s.channel().await);
    for service in ["", "vigil.v1.CameraService"] {
        let r = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap();
        assert_eq!(
            r.into_inner().status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{service:?}"
        );
    }

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut refl = ServerReflectionClient::new(s.channel().await);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = refl
        .server_reflection_info(tokio_stream::iter([req]))
        .await
        .unwrap()
        .into_inner();
    let resp = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("unexpected {resp:?}")
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"vigil.v1.CameraService".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );
}
