//! Signed notes and checkpoints, including the published example of Go's `golang.org/x/mod/sumdb/note`
//! (`note_test.go`: the PeterNeumann and EnochRoot keys and signatures).

use base64::{engine::general_purpose::STANDARD, Engine as _};

use crate::tlog::note::{open_checkpoint, verify_note, Checkpoint, LogKey, NoteError, VerifierKey};

const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
/// The signer key of `note_test.go`: "PRIVATE+KEY+PeterNeumann+c74f20a3+" then this, base64(0x01 || seed).
const PETER_SKEY_B64: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

/// A PKCS#8 v1 document for an Ed25519 seed (RFC 8410 §7), the form `openssl genpkey` writes.
fn pkcs8_v1(seed: &[u8]) -> Vec<u8> {
    let header = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    [&header[..], seed].concat()
}

fn peter() -> LogKey {
    let skey = STANDARD.decode(PETER_SKEY_B64).unwrap();
    assert_eq!(skey[0], 0x01);
    LogKey::from_pkcs8("PeterNeumann", &pkcs8_v1(&skey[1..])).unwrap()
}

fn fresh(name: &str) -> LogKey {
    LogKey::from_pkcs8(name, &LogKey::generate_pkcs8().unwrap()).unwrap()
}

#[test]
fn go_example_key_and_note_match_exactly() {
    let key = peter();
    assert_eq!(key.verifier_key(), PETER_VKEY);
    assert_eq!(key.key_hash(), [0xc7, 0x4f, 0x20, 0xa3]);
    // Ed25519 is deterministic: the same bytes as Go's `Sign`.
    assert_eq!(key.sign_note(TEXT).unwrap(), format!("{TEXT}\n{PETER_SIG}"));
    assert_eq!(
        format!("{key:?}"),
        r#"LogKey { name: "PeterNeumann", key_hash: c74f20a3, private_key: "<redacted>" }"#
    );
}

#[test]
fn go_example_notes_open() {
    let both = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    assert_eq!(
        verify_note(&format!("{TEXT}\n{PETER_SIG}"), PETER_VKEY),
        Ok(TEXT)
    );
    assert_eq!(
        verify_note(&both, PETER_VKEY),
        Ok(TEXT),
        "EnochRoot's line is ignored"
    );
    assert_eq!(
        verify_note(&both, ENOCH_VKEY),
        Ok(TEXT),
        "PeterNeumann's line is ignored"
    );
    assert_eq!(
        verify_note(&both, &fresh("PeterNeumann").verifier_key()),
        Err(NoteError::NoMatchingSignature)
    );
    let repeated = format!(
        "{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{}ABCD{}",
        &ENOCH_SIG[..60],
        &ENOCH_SIG[60..]
    );
    assert_eq!(verify_note(&repeated, PETER_VKEY), Ok(TEXT));

    let bad_sig = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert_eq!(
        verify_note(&bad_sig, PETER_VKEY),
        Err(NoteError::BadSignature)
    );
    let too_many = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
    assert!(matches!(
        verify_note(&too_many, PETER_VKEY),
        Err(NoteError::MalformedNote(_))
    ));

    // The malformed messages of `note_test.go` (its "\xff" case cannot be a &str).
    let malformed = [
        TEXT.to_owned(),
        format!("{TEXT}\n"),
        format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\x01{TEXT}\n{PETER_SIG}"),
        format!("{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
        format!("{TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for msg in malformed {
        assert!(
            matches!(
                verify_note(&msg, PETER_VKEY),
                Err(NoteError::MalformedNote(_))
            ),
            "{msg:?}"
        );
    }
}

#[test]
fn verifier_keys_parse_strictly() {
    let key = VerifierKey::parse(PETER_VKEY).unwrap();
    assert_eq!(key.name(), "PeterNeumann");
    assert_eq!(key.to_string(), PETER_VKEY);
    assert_eq!(key.public_key(), peter().public_key());
    // Go's manglings: every proper substring and every byte incremented.
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if (i, j) != (0, b.len()) {
                assert!(
                    VerifierKey::parse(&PETER_VKEY[i..j]).is_err(),
                    "{}",
                    &PETER_VKEY[i..j]
                );
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] += 1;
        let m = String::from_utf8(m).unwrap();
        assert!(VerifierKey::parse(&m).is_err(), "{m}");
    }
    // Wrong key length and unknown algorithm, each with a recomputed key hash.
    assert_eq!(
        VerifierKey::parse(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        ),
        Err(NoteError::MalformedVerifierKey)
    );
    assert_eq!(
        VerifierKey::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(NoteError::UnsupportedAlgorithm(0x65))
    );
    assert_eq!(
        VerifierKey::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(NoteError::VerifierKeyHashMismatch)
    );
}

#[test]
fn key_hash_is_the_signed_note_formula() {
    let key = fresh("tongban.example.cn/licences");
    let mut input = b"tongban.example.cn/licences\n\x01".to_vec();
    input.extend_from_slice(&key.public_key());
    let h = crate::crypto::sha256(&input);
    assert_eq!(key.key_hash(), h[..4]);
    let vkey = key.verifier_key();
    let hex: String = key.key_hash().iter().map(|b| format!("{b:02x}")).collect();
    let pk = STANDARD.encode([&[1u8][..], &key.public_key()].concat());
    assert_eq!(vkey, format!("tongban.example.cn/licences+{hex}+{pk}"));
    assert!(!format!("{key:?}").contains(&STANDARD.encode(LogKey::generate_pkcs8().unwrap())));
}

#[test]
fn bad_key_names_and_texts_are_refused() {
    let pkcs8 = LogKey::generate_pkcs8().unwrap();
    for name in ["", "a b", "a+b", "a\nb", "a\u{3000}b"] {
        assert_eq!(
            LogKey::from_pkcs8(name, &pkcs8).unwrap_err(),
            NoteError::InvalidKeyName,
            "{name:?}"
        );
    }
    assert_eq!(
        LogKey::from_pkcs8("log", b"not a key").unwrap_err(),
        NoteError::InvalidPrivateKey
    );
    let key = fresh("log");
    assert!(matches!(
        key.sign_note("no newline"),
        Err(NoteError::MalformedNote(_))
    ));
    assert!(matches!(
        key.sign_note(""),
        Err(NoteError::MalformedNote(_))
    ));
    assert!(matches!(
        key.sign_note("tab\there\n"),
        Err(NoteError::MalformedNote(_))
    ));
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        origin: "tongban.example.cn/licences".into(),
        size: 1234,
        root: [0x5a; 32],
        time: 1_767_225_600,
    }
}

#[test]
fn checkpoint_round_trip_and_format() {
    let key = fresh("tongban.example.cn/licences");
    let cp = checkpoint();
    assert_eq!(
        cp.body(),
        format!(
            "tongban.example.cn/licences\n1234\n{}\ntime 1767225600\n",
            STANDARD.encode([0x5a; 32])
        )
    );
    let signed = key.sign_checkpoint(&cp).unwrap();
    let (body, sig) = signed.split_once("\n\n").unwrap();
    assert_eq!(format!("{body}\n"), cp.body());
    assert!(sig.starts_with("\u{2014} tongban.example.cn/licences "));
    let raw = STANDARD
        .decode(sig.trim_end().rsplit(' ').next().unwrap())
        .unwrap();
    assert_eq!(raw.len(), 4 + 64);
    assert_eq!(raw[..4], key.key_hash());
    assert_eq!(
        open_checkpoint(&signed, &key.verifier_key()),
        Ok(cp.clone())
    );
    for time in [0, -1, i64::MAX] {
        let cp = Checkpoint {
            time,
            size: 0,
            ..checkpoint()
        };
        assert_eq!(
            open_checkpoint(&key.sign_checkpoint(&cp).unwrap(), &key.verifier_key()),
            Ok(cp)
        );
    }
}

#[test]
fn any_changed_character_breaks_a_checkpoint() {
    let key = fresh("tongban.example.cn/licences");
    let signed = key.sign_checkpoint(&checkpoint()).unwrap();
    let chars: Vec<char> = signed.chars().collect();
    for i in 0..chars.len() {
        let mut changed = chars.clone();
        changed[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let changed: String = changed.into_iter().collect();
        assert!(
            open_checkpoint(&changed, &key.verifier_key()).is_err(),
            "char {i} of {changed:?}"
        );
    }
}

#[test]
fn other_keys_and_origins_are_rejected() {
    let key = fresh("tongban.example.cn/licences");
    let impostor = fresh("tongban.example.cn/licences");
    let signed = key.sign_checkpoint(&checkpoint()).unwrap();
    assert_eq!(
        open_checkpoint(&signed, &impostor.verifier_key()),
        Err(NoteError::NoMatchingSignature)
    );
    // The impostor's line next to the real one: each key finds its own.
    let (_, impostor_line) = impostor
        .sign_checkpoint(&checkpoint())
        .unwrap()
        .split_once("\n\n")
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap();
    let cosigned = format!("{signed}{impostor_line}");
    assert!(open_checkpoint(&cosigned, &key.verifier_key()).is_ok());
    assert!(open_checkpoint(&cosigned, &impostor.verifier_key()).is_ok());

    let other = fresh("other.example");
    assert!(matches!(
        other.sign_checkpoint(&checkpoint()),
        Err(NoteError::OriginMismatch { .. })
    ));
    let foreign = other.sign_note(&checkpoint().body()).unwrap();
    assert!(matches!(
        open_checkpoint(&foreign, &other.verifier_key()),
        Err(NoteError::OriginMismatch { .. })
    ));
    assert!(matches!(
        open_checkpoint(&signed, "garbage"),
        Err(NoteError::MalformedVerifierKey)
    ));
}

#[test]
fn checkpoint_bodies_parse_strictly() {
    let root = STANDARD.encode([1u8; 32]);
    let ok = format!("log\n5\n{root}\ntime 7\n");
    assert_eq!(
        Checkpoint::parse_body(&ok),
        Ok(Checkpoint {
            origin: "log".into(),
            size: 5,
            root: [1; 32],
            time: 7
        })
    );
    let short_root = STANDARD.encode([1u8; 31]);
    let bad = [
        format!("log\n5\n{root}\ntime 7"),
        format!("log\n5\n{root}\n"),
        format!("log\n5\n{root}\ntime 7\nextra\n"),
        format!("\n5\n{root}\ntime 7\n"),
        format!("log\n05\n{root}\ntime 7\n"),
        format!("log\n+5\n{root}\ntime 7\n"),
        format!("log\n-5\n{root}\ntime 7\n"),
        format!("log\n5 \n{root}\ntime 7\n"),
        format!("log\n18446744073709551616\n{root}\ntime 7\n"),
        format!("log\n5\n{short_root}\ntime 7\n"),
        format!("log\n5\n{}\ntime 7\n", root.trim_end_matches('=')),
        format!("log\n5\n{root}\ntime 07\n"),
        format!("log\n5\n{root}\ntime -0\n"),
        format!("log\n5\n{root}\ntime  7\n"),
        format!("log\n5\n{root}\nTime 7\n"),
    ];
    for body in bad {
        assert!(
            matches!(
                Checkpoint::parse_body(&body),
                Err(NoteError::MalformedCheckpoint(_))
            ),
            "{body:?}"
        );
    }
}
