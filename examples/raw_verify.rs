//! The raw ES256 verification rate of one core with ring, for the ratio the licence load test reports
//! (`benches/load/licences.sh` runs this pinned to the server's core just before the API load).
//! Usage: `raw_verify [SECONDS]` (default 5); prints `raw ES256 verifications/s: N`.

use std::time::{Duration, Instant};

use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};

fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    // A message the size of a licence's signing input.
    let msg = vec![b'e'; 2300];
    let sig = key.sign(&rng, &msg).unwrap();
    let public = key.public_key().as_ref().to_vec();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        for _ in 0..100 {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
                .verify(&msg, sig.as_ref())
                .unwrap();
        }
        n += 100;
    }
    println!(
        "raw ES256 verifications/s: {:.0}",
        n as f64 / start.elapsed().as_secs_f64()
    );
}
