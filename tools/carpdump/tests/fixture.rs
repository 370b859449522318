//! carpdump on the shared ucarp capture must reproduce the expected verdicts exactly
//! (frame number, source, verdict for all 139 CARP packets), with the vhid given and with
//! the vhid inferred, and fail (exit 1) because some packets are bad.

use std::path::PathBuf;
use std::process::Command;

fn fixtures() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    assert!(d.join("ucarp-vhid42.pcapng").is_file(), "fixture missing in {}", d.display());
    d
}

fn run(extra: &[&str]) -> (i32, String) {
    let d = fixtures();
    let out = Command::new(env!("CARGO_BIN_EXE_carpdump"))
        .arg(d.join("ucarp-vhid42.pcapng"))
        .args(["--pass", "s3cretpw", "--addr", "10.99.0.100", "--brief"])
        .args(extra)
        .output()
        .expect("run carpdump");
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap())
}

fn expected() -> String {
    let t = std::fs::read_to_string(fixtures().join("ucarp-vhid42.expected.tsv")).unwrap();
    let mut lines = t.lines();
    assert_eq!(lines.next(), Some("frame\tsource\texpected"));
    lines.map(|l| format!("{l}\n")).collect()
}

fn body(out: &str) -> String {
    out.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect()
}

#[test]
fn reproduces_expected_tsv() {
    let want = expected();
    assert_eq!(want.lines().count(), 139);
    for extra in [&["--vhid", "42"][..], &[][..]] {
        let (code, out) = run(extra);
        assert_eq!(body(&out), want, "carpdump {extra:?}");
        assert_eq!(code, 1, "bad packets present: exit status 1");
        let summary = out.lines().last().unwrap();
        assert!(summary.starts_with("# 139 packets in 227 frames: 8 bad_auth, 4 bad_checksum, 4 bad_ttl, 4 unknown_vhid, 119 valid"), "{summary}");
    }
}

#[test]
fn wrong_password_fails_every_authenticated_packet() {
    let d = fixtures();
    let out = Command::new(env!("CARGO_BIN_EXE_carpdump"))
        .arg(d.join("ucarp-vhid42.pcapng"))
        .args(["--pass", "wrong", "--addr", "10.99.0.100", "--vhid", "42", "--brief"])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(!s.lines().any(|l| l.ends_with("\tvalid")));
    assert_eq!(s.lines().filter(|l| l.ends_with("\tbad_auth")).count(), 127);
}
