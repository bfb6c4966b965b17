//! The per-request crypto costs behind the token, userinfo and login figures: one ES256 signature with
//! ring (the access-token hot path) against josekit's, one ES256 verification, one RS256 signature (ID
//! tokens for RS256 clients), one argon2id hash at the configured parameters (m = 19456 KiB, t = 2, p = 1).
//! Run: `cargo bench --bench crypto`.

use criterion::{criterion_group, criterion_main, Criterion};
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use tongban::crypto::keys::{KeyDir, SigningAlg};

fn signing(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (keys, _) = KeyDir::open_or_init(dir.path(), 0).unwrap();
    let store = keys.current();
    let claims = serde_json::json!({
        "iss": "https://tongban.example", "sub": "yt8FWiRhJpMFaZUYENw701_I-XbpeT-d8AxUrgoB42U", "aud": "https://tongban.example",
        "client_id": "dept-system", "scope": "licences:verify", "exp": 2_000_000_000, "iat": 1_999_999_400, "jti": "8v6xk5YkqRVUGpS6ZSQ5Pw",
    });
    let msg = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0";

    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ring_key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    c.bench_function("es256_sign_ring", |b| {
        b.iter(|| ring_key.sign(&rng, msg).unwrap())
    });

    let jose_key = josekit::jws::ES256.generate_key_pair().unwrap();
    let jose_signer = josekit::jws::ES256
        .signer_from_der(jose_key.to_der_private_key())
        .unwrap();
    c.bench_function("es256_sign_josekit", |b| {
        b.iter(|| josekit::jws::JwsSigner::sign(&jose_signer, msg).unwrap())
    });

    let sig = ring_key.sign(&rng, msg).unwrap();
    let public = UnparsedPublicKey::new(
        &ECDSA_P256_SHA256_FIXED,
        ring_key.public_key().as_ref().to_vec(),
    );
    c.bench_function("es256_verify_ring", |b| {
        b.iter(|| public.verify(msg, sig.as_ref()).unwrap())
    });

    c.bench_function("access_token_es256_full_jwt", |b| {
        b.iter(|| tongban::crypto::jwt::sign(&store, SigningAlg::ES256, "at+jwt", &claims).unwrap())
    });
    let token = tongban::crypto::jwt::sign(&store, SigningAlg::ES256, "at+jwt", &claims).unwrap();
    c.bench_function("access_token_es256_verify", |b| {
        b.iter(|| {
            tongban::crypto::jwt::verify::<serde_json::Value>(
                &store,
                &token,
                "at+jwt",
                1_999_999_500,
            )
            .unwrap()
        })
    });
    let mut group = c.benchmark_group("slow");
    group.sample_size(20);
    group.bench_function("id_token_rs256_full_jwt", |b| {
        b.iter(|| tongban::crypto::jwt::sign(&store, SigningAlg::RS256, "JWT", &claims).unwrap())
    });
    let params = argon2::Params::new(19456, 2, 1, None).unwrap();
    group.bench_function("argon2id_m19456_t2_p1", |b| {
        b.iter(|| {
            tongban::crypto::password::hash_blocking(&params, "Correct-Horse-9-Battery").unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, signing);
criterion_main!(benches);
