//! Tests of [`super`].

use super::*;

/// ISO/IEC 7064 MOD 37,36 vectors published by others:
/// - python-stdnum `stdnum/iso7064/mod_37_36.py` doctest (`A12425GABC1234002` → `M`, a GRid)
///   and `stdnum/isan.py` doctests (ISAN check characters are MOD 37,36 over the hex digits);
/// - jacoelho/go-iso7064 `iso7064/modulo37_36_test.go`.
const PUBLISHED: &[(&str, char)] = &[
    // python-stdnum
    ("A12425GABC1234002", 'M'),
    ("0000000189470000", '8'),
    ("000000018947000000000000", 'D'),
    ("000000018CFA0000", 'I'),
    ("000000018CFA000000000000", 'K'),
    ("00000000D07A0090", 'Q'),
    ("00000000D07A009000000000", 'X'),
    ("188166C734206541", 'Y'),
    ("188166C7342065419F3A0245", 'O'),
    // go-iso7064
    ("RABD", 'A'),
    ("X0H", 'X'),
    ("B7Q3SFTUSH2QN7BIXBPMNZAM", 'I'),
    ("UFSYYJO9FCID766EJYAEINTG43UZDD84MT6ZUDH08OM4N1K", 'N'),
    ("ROYL38YZ9TDGPNB5MT40CEWGURAOKF07XEYTV3M", '6'),
    ("TBR", '1'),
    ("EFWW032G2TI", 'U'),
    ("9", 'J'),
    ("B3739U6CR", 'K'),
    ("H0DJFUS8HHGZNEE9H6ZWW", 'O'),
    ("C8AWF5G0CE8U9VTKSPPS2JAP09ZFEGFEAV", 'L'),
    ("OW", 'N'),
    ("TRO", 'D'),
    ("1M", 'Q'),
    ("FLFOWRIBFCNWNMNFVKAJVS7REUS2L", '2'),
    ("7LI6P5WTF2JHU", 'U'),
    ("KUHNOF8OA1NXCW", 'A'),
    ("KV0MFQXMAL4W5ICNH", 'P'),
    ("MM61BF7H6C2O86NNMW8ZY8V", '8'),
    ("WP8Z0", '9'),
];

#[test]
fn mod37_36_matches_published_vectors() {
    for &(body, check) in PUBLISHED {
        assert_eq!(mod37_36_check(body), Some(check), "{body}");
        assert!(mod37_36_valid(&format!("{body}{check}")), "{body}{check}");
    }
    // python-stdnum grid.py: the same GRid with a wrong check character.
    assert!(!mod37_36_valid("A12425GABC1234002Q"));
    // python-stdnum isan.py: `0000-0001-8CFA-0000-A-...` fails its first check character.
    assert!(!mod37_36_valid("000000018CFA0000A"));
}

#[test]
fn mod37_36_rejects_foreign_characters() {
    assert_eq!(mod37_36_check("abc"), None);
    assert_eq!(mod37_36_check("12-3"), None);
    assert!(!mod37_36_valid(""));
    assert!(!mod37_36_valid("A12425GABC1234002m"));
}

#[test]
fn mod37_36_catches_every_single_substitution_and_adjacent_swap() {
    let good = "A12425GABC1234002M";
    let bytes = good.as_bytes();
    for i in 0..bytes.len() {
        for &c in ALPHABET {
            if c != bytes[i] {
                let mut b = bytes.to_vec();
                b[i] = c;
                let s = String::from_utf8(b).unwrap();
                assert!(!mod37_36_valid(&s), "{s}");
            }
        }
        if i + 1 < bytes.len() && bytes[i] != bytes[i + 1] {
            let mut b = bytes.to_vec();
            b.swap(i, i + 1);
            let s = String::from_utf8(b).unwrap();
            assert!(!mod37_36_valid(&s), "{s}");
        }
    }
}

/// Identifiers issued on China's national integrated government service platform, found in
/// public source code and documentation (Shandong, Hunan, Zhejiang, Jilin integrations).
/// Their check characters agree with MOD 37,36 over type ‖ issuer ‖ serial ‖ version, which
/// confirms what the check character covers.
#[test]
fn real_world_identifiers_parse() {
    for s in [
        "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
        "1.2.156.3005.2.11100000000013338W087.11370800MB28559184.37080001202411010001.001.3",
        "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S",
        "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
        "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0",
    ] {
        let id = LicenceId::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(id.as_str(), s);
    }
}

/// Expected check characters computed independently with Python (python-stdnum's
/// algorithm, re-runnable with `python3 -c "$SNIPPET"`):
///
/// ```python
/// A = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'
/// def check(s):
///     c = 18
///     for n in s: c = (((c or 36) * 2) % 37 + A.index(n)) % 36
///     return A[(1 - ((c or 36) * 2) % 37) % 36]
/// for t, i, s, v in [
///     ("91350100M000100Y43" + "001", "91110000802100433B", "K7Q2M9X4T1B8D3F6H5J0", "001"),
///     ("9144030071526726XG" + "012", "91310000775785552L", "0000000001", "002"),
///     ("91110000802100433B" + "999", "9144030071526726XG", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", "100"),
///     ("91310000775785552L" + "000", "91350100M000100Y43", "ZZZZZZZZZZZZZZZZZZZZ", "999"),
/// ]:
///     print(f"1.2.156.3005.2.{t}.{i}.{s}.{v}.{check(t+i+s+v)}")
/// ```
const TONGBAN_VECTORS: &[(&str, &str, &str, u16, &str)] = &[
    (
        "91350100M000100Y43001",
        "91110000802100433B",
        "K7Q2M9X4T1B8D3F6H5J0",
        1,
        "1.2.156.3005.2.91350100M000100Y43001.91110000802100433B.K7Q2M9X4T1B8D3F6H5J0.001.B",
    ),
    (
        "9144030071526726XG012",
        "91310000775785552L",
        "0000000001",
        2,
        "1.2.156.3005.2.9144030071526726XG012.91310000775785552L.0000000001.002.X",
    ),
    (
        "91110000802100433B999",
        "9144030071526726XG",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
        100,
        "1.2.156.3005.2.91110000802100433B999.9144030071526726XG.ABCDEFGHIJKLMNOPQRSTUVWXYZ012345.100.W",
    ),
    (
        "91310000775785552L000",
        "91350100M000100Y43",
        "ZZZZZZZZZZZZZZZZZZZZ",
        999,
        "1.2.156.3005.2.91310000775785552L000.91350100M000100Y43.ZZZZZZZZZZZZZZZZZZZZ.999.A",
    ),
];

#[test]
fn new_and_parse_agree_with_independent_vectors() {
    for &(type_code, issuer, serial, version, expected) in TONGBAN_VECTORS {
        let t = LicenceTypeCode::parse(type_code).unwrap();
        let u = Uscc::parse(issuer).unwrap();
        let id = LicenceId::new(&t, &u, serial, version).unwrap();
        assert_eq!(id.as_str(), expected);
        assert_eq!(id.to_string(), expected);
        let parsed = LicenceId::parse(expected).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(parsed.type_code().as_str(), type_code);
        assert_eq!(parsed.type_code().authority(), &type_code[..18]);
        assert_eq!(parsed.issuer().as_str(), issuer);
        assert_eq!(parsed.serial(), serial);
        assert_eq!(parsed.version(), version);
        assert_eq!(Some(parsed.check_char()), expected.chars().last());
    }
}

#[test]
fn parse_rejects_each_kind_of_damage() {
    let good = TONGBAN_VECTORS[0].4;
    let cases = [
        (
            good.replacen("1.2.156.3005.2.", "1.2.156.3005.3.", 1),
            LicenceIdError::Prefix,
        ),
        (format!("{good}.X"), LicenceIdError::Structure),
        (good.replacen(".001.B", ".B", 1), LicenceIdError::Structure),
        (
            good.replacen("Y43001", "Y4300A", 1),
            LicenceIdError::TypeCodeFormat,
        ),
        (
            good.replacen("M000100Y43", "M000100Y44", 1),
            LicenceIdError::TypeAuthority(IdError::UsccCheck),
        ),
        (
            good.replacen("91110000802100433B", "91110000802100433C", 1),
            LicenceIdError::Issuer(IdError::UsccCheck),
        ),
        (
            good.replacen("91110000802100433B", "91110000802100433b", 1),
            LicenceIdError::Issuer(IdError::UsccFormat),
        ),
        (
            good.replacen("K7Q2M9X4T1B8D3F6H5J0", "K7Q2M9X4T1B8D3F6H5J-", 1),
            LicenceIdError::Serial,
        ),
        (
            good.replacen("K7Q2M9X4T1B8D3F6H5J0", "k7Q2M9X4T1B8D3F6H5J0", 1),
            LicenceIdError::Serial,
        ),
        (
            good.replacen("K7Q2M9X4T1B8D3F6H5J0", "", 1),
            LicenceIdError::Serial,
        ),
        (
            good.replacen("K7Q2M9X4T1B8D3F6H5J0", &"A".repeat(33), 1),
            LicenceIdError::Serial,
        ),
        (good.replacen(".001.", ".01.", 1), LicenceIdError::Version),
        (good.replacen(".001.", ".0A1.", 1), LicenceIdError::Version),
        (good.replacen(".001.B", ".001.C", 1), LicenceIdError::Check),
        (good.replacen(".001.B", ".001.b", 1), LicenceIdError::Check),
        (good.replacen(".001.B", ".001.", 1), LicenceIdError::Check),
        (good.replacen(".001.B", ".001.BB", 1), LicenceIdError::Check),
        // A transposed serial keeps the structure but not the check character.
        (good.replacen("K7Q2", "7KQ2", 1), LicenceIdError::Check),
        (format!(" {good}"), LicenceIdError::Prefix),
    ];
    for (input, want) in cases {
        assert_eq!(LicenceId::parse(&input), Err(want.clone()), "{input}");
    }
}

#[test]
fn new_rejects_bad_serial_and_version() {
    let t = LicenceTypeCode::parse("91350100M000100Y43001").unwrap();
    let u = Uscc::parse("91110000802100433B").unwrap();
    assert_eq!(
        LicenceId::new(&t, &u, "ABC.DEF", 1),
        Err(LicenceIdError::Serial)
    );
    assert_eq!(
        LicenceId::new(&t, &u, "ABCDEFGHIJ", 1000),
        Err(LicenceIdError::Version)
    );
}

#[test]
fn random_serials_are_well_formed_and_distinct() {
    let t = LicenceTypeCode::parse("91350100M000100Y43001").unwrap();
    let u = Uscc::parse("91110000802100433B").unwrap();
    let a = LicenceId::random_serial();
    let b = LicenceId::random_serial();
    assert_eq!(a.len(), SERIAL_LEN);
    assert!(is_upper_alnum(&a));
    assert_ne!(a, b);
    let id = LicenceId::new(&t, &u, &a, 1).unwrap();
    assert_eq!(LicenceId::parse(id.as_str()).unwrap(), id);
}

#[test]
fn serde_uses_the_string_form() {
    let s = TONGBAN_VECTORS[1].4;
    let id: LicenceId = serde_json::from_value(serde_json::json!(s)).unwrap();
    assert_eq!(serde_json::to_value(&id).unwrap(), serde_json::json!(s));
    assert!(serde_json::from_value::<LicenceId>(serde_json::json!("1.2.3")).is_err());
    assert_eq!(s.parse::<LicenceId>().unwrap(), id);
}
