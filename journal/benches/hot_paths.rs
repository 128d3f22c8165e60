//! The journal's hot paths, timed with criterion (`cargo bench -p journal`; `scripts/bench.sh`
//! runs them and the README keeps the latest figures): header encode and decode (decode
//! verifies the checksum), the checksum itself over a header and a full prepare, and the
//! recovery decision function over all 2^11 table inputs.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use journal::decision_table::{decide, inputs_of_index, INPUT_COUNT};
use journal::header::checksum;
use journal::{Header, HEADER_SIZE};

fn header_sample() -> (Header, Vec<u8>) {
    let body: Vec<u8> = (0..2048 - HEADER_SIZE).map(|i| (i * 7) as u8).collect();
    let mut header = Header::root(0x5eed);
    header.op = 1_000_003;
    header.view = 7;
    header.operation = journal::header::OPERATION_APPLICATION_MIN;
    header.set_body(&body);
    header.set_checksum();
    (header, body)
}

fn headers(c: &mut Criterion) {
    let (header, _) = header_sample();
    let bytes = header.to_bytes();
    let mut group = c.benchmark_group("header");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode", |b| {
        let mut out = [0u8; HEADER_SIZE as usize];
        b.iter(|| black_box(&header).encode(black_box(&mut out)));
    });
    group.bench_function("decode", |b| {
        b.iter(|| Header::decode(black_box(&bytes)).expect("valid"));
    });
    group.finish();
}

fn checksums(c: &mut Criterion) {
    let (header, body) = header_sample();
    let bytes = header.to_bytes();
    let mut group = c.benchmark_group("checksum");
    group.throughput(Throughput::Bytes(HEADER_SIZE));
    group.bench_function("header_128B", |b| b.iter(|| checksum(black_box(&bytes))));
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("body_1920B", |b| b.iter(|| checksum(black_box(&body))));
    group.finish();
}

fn decisions(c: &mut Criterion) {
    let inputs: Vec<[bool; INPUT_COUNT]> = (0..1 << INPUT_COUNT).map(inputs_of_index).collect();
    let mut group = c.benchmark_group("decision");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("all_2048_inputs", |b| {
        b.iter(|| {
            let mut possible = 0u32;
            for inputs in &inputs {
                possible += u32::from(decide(black_box(inputs)).is_ok());
            }
            possible
        });
    });
    group.finish();
}

criterion_group!(benches, headers, checksums, decisions);
criterion_main!(benches);
