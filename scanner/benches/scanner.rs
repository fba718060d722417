//! Criterion benchmarks: parsing a realistic scan stream (AIM identifier + GS1 element string
//! with full validation, replayed from the demo serials) and decoding 1280×720 camera frames
//! with and without a GS1 DataMatrix, at the default (live camera) settings.
//!
//! `cargo bench -p custodian-scanner`; criterion prints the median per iteration and, for
//! parsing, the throughput in messages per second.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark: a panic is the error report"
)]

#[path = "../tests/support/labels.rs"]
mod labels;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use custodian_scanner::decode::{DecodeOptions, decode_luma};
use custodian_scanner::parse;
use labels::{Gray, Symbol, demo_serials, label};

fn messages() -> Vec<String> {
    let jsonl = include_str!("../../fixtures/demo/serials.jsonl");
    jsonl
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            format!("]d2{}\r\n", row["element_string"].as_str().unwrap())
        })
        .collect()
}

fn bench_parse(c: &mut Criterion) {
    let messages = messages();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("demo serials, ]d2 element strings with AI 8030", |b| {
        b.iter(|| {
            for m in &messages {
                black_box(parse(black_box(m)).unwrap());
            }
        });
    });
    group.finish();
}

fn bench_decode(c: &mut Criterion) {
    let jsonl = include_str!("../../fixtures/demo/serials.jsonl");
    let demo = demo_serials(jsonl, 1);
    let code = label(Symbol::Gs1DataMatrix, &demo[0].element_string, 5);
    // A mid-grey background with the label off-centre, as a handheld camera sees it.
    let mut frame = Gray::blank(1280, 720, 200);
    frame.blit(&code, 700, 250);
    let empty = Gray::blank(1280, 720, 200);
    let options = DecodeOptions::default();
    assert_eq!(decode_luma(1280, 720, &frame.px, &options).len(), 1);

    let mut group = c.benchmark_group("decode 1280x720");
    group.sample_size(30);
    group.bench_function("one GS1 DataMatrix", |b| {
        b.iter(|| black_box(decode_luma(1280, 720, black_box(&frame.px), &options)));
    });
    group.bench_function("empty frame", |b| {
        b.iter(|| black_box(decode_luma(1280, 720, black_box(&empty.px), &options)));
    });
    let single = DecodeOptions {
        multiple: false,
        ..DecodeOptions::default()
    };
    group.bench_function("one GS1 DataMatrix, single-code reader", |b| {
        b.iter(|| black_box(decode_luma(1280, 720, black_box(&frame.px), &single)));
    });
    group.finish();
}

criterion_group!(benches, bench_parse, bench_decode);
criterion_main!(benches);
