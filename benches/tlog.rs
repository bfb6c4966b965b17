//! The transparency log's costs, in memory (the database adds one indexed query per proof for the
//! stored nodes, and one range of at most 16 leaves per block whose lower nodes are recomputed):
//!
//! - appending a leaf (`Frontier::append`: the leaf hash plus the new complete subtrees);
//! - inclusion and consistency proof generation at 1 thousand, 1 million and 10 million leaves, with
//!   the proof sizes printed: both must grow with log n, not n.
//!
//! Run: `cargo bench --bench tlog` (building the 10-million-leaf log takes about half a minute and
//! ~2 GB of memory). The append rate of the service, with a database and checkpoints, is measured by
//! `benches/load/licences.sh` (issuance with and without the log).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use tongban::tlog::merkle::{
    consistency_proof, consistency_proof_needs, inclusion_proof, inclusion_proof_needs, leaf_hash,
    Frontier, MemoryLog,
};

fn append(c: &mut Criterion) {
    let mut f = Frontier::new();
    let mut n = 0u64;
    c.bench_function("tlog append (leaf hash + new nodes)", |b| {
        b.iter(|| {
            n += 1;
            black_box(f.append(leaf_hash(&n.to_be_bytes())))
        })
    });
}

fn proofs(c: &mut Criterion) {
    let mut group = c.benchmark_group("tlog proofs");
    for size in [1_000u64, 1_000_000, 10_000_000] {
        let mut log = MemoryLog::new();
        for i in 0..size {
            log.append(&i.to_be_bytes());
        }
        let (index, old) = (size / 2 - 1, size / 3);
        let inc = inclusion_proof(index, size, |id| log.node(id)).unwrap();
        let con = consistency_proof(old, size, |id| log.node(id)).unwrap();
        println!(
            "size {size}: inclusion proof {} hashes from {} stored nodes; consistency proof {} hashes from {} stored nodes",
            inc.len(),
            inclusion_proof_needs(index, size).unwrap().len(),
            con.len(),
            consistency_proof_needs(old, size).unwrap().len()
        );
        group.bench_with_input(BenchmarkId::new("inclusion", size), &size, |b, &size| {
            b.iter(|| inclusion_proof(black_box(index), size, |id| log.node(id)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("consistency", size), &size, |b, &size| {
            b.iter(|| consistency_proof(black_box(old), size, |id| log.node(id)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, append, proofs);
criterion_main!(benches);
