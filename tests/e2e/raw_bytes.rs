//! Raw bytes in, equal raw bytes out: every Webex fixture, and bodies with odd whitespace, unicode
//! escapes and invalid JSON, survive the database byte for byte.

use bytes::Bytes;
use chrono::Utc;
use webex_quality::db::{CallRecord, Changes, Database};
use webex_quality::webex::RawPage;

#[test]
fn every_fixture_body_comes_back_byte_for_byte() {
    let folder = format!("{}/fixtures/webex", env!("CARGO_MANIFEST_DIR"));
    let mut bodies: Vec<(String, Vec<u8>)> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    bodies.sort();
    assert!(bodies.len() >= 15, "{} fixtures", bodies.len());
    bodies.push((
        "odd whitespace".into(),
        b" \t{ \"items\" :\r\n [ ] }\n\n".to_vec(),
    ));
    bodies.push((
        "unicode escapes".into(),
        br#"{"items":[{"webexUserName":"Zo\u00eb \ud83d\udca5 \"quoted\" \/ <script>"}]}"#.to_vec(),
    ));
    bodies.push((
        "raw unicode".into(),
        "{\"items\":[{\"webexUserName\":\"王芳 سارة Zoë\"}]}"
            .as_bytes()
            .to_vec(),
    ));
    bodies.push(("not json".into(), b"{\"items\":[{\"cut".to_vec()));
    bodies.push((
        "numbers".into(),
        b"{\"a\":[1.0,1,1e2,-1,0.10000000000000001]}".to_vec(),
    ));

    let dir = crate::helpers::temp_dir("raw-bytes");
    let mut db = Database::open(&dir.join("db.sqlite")).unwrap();
    let at = Utc::now();
    let pages: Vec<RawPage> = bodies
        .iter()
        .map(|(name, body)| RawPage {
            request_url: format!(
                "https://analytics.webexapis.com/v1/meeting/qualities?meetingId=x_I_1&fixture={}",
                name.len()
            ),
            status: 200,
            tracking_id: format!("ROUTER_{name}"),
            fetched_at: at,
            body: Bytes::from(body.clone()),
            next: None,
        })
        .collect();
    db.apply(&Changes {
        calls: vec![CallRecord {
            instance_id: "x_I_1".into(),
            called_at: at,
            pages,
            completed: true,
            error: None,
            tracking_id: None,
            last_page_malformed: false,
        }],
        ..Changes::default()
    })
    .unwrap();
    db.integrity_check().unwrap();
    let stored = db.latest_complete_pages("x_I_1").unwrap();
    assert_eq!(stored.len(), bodies.len());
    for ((name, body), page) in bodies.iter().zip(&stored) {
        assert_eq!(page.body.as_ref(), body.as_slice(), "{name}");
        assert_eq!(page.tracking_id, format!("ROUTER_{name}"));
    }
}
