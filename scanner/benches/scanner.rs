//! Criterion benchmarks: parsing a realistic scan stream (AIM identifier + GS1 element string
//! with full validation, replayed from the demo serials) and decoding 1280×720 camera frames of
//! cluttered scenes with and without a GS1 DataMatrix label, at the default (live camera)
//! settings, with the locating pre-pass (the default) and over the whole frame.
//!
//! `taskset -c 0 cargo bench -p custodian-scanner` (one core); criterion prints the median per
//! iteration and, for parsing, the throughput in messages per second. `custodian bench decode`
//! reports the same figures from the committed frames, with detection rates.

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
use labels::{FRAMES, demo_serials};

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

/// The same labels without their signature: GTIN, lot, serial (and expiry where the product
/// has one), as most GS1 DataMatrix codes in the channel carry.
fn unsigned(messages: &[String]) -> Vec<String> {
    messages
        .iter()
        .map(|m| {
            let body = m.trim_end();
            let cut = body.find("\u{1d}8030").unwrap_or(body.len());
            format!("{}\r\n", &body[..cut])
        })
        .collect()
}

fn bench_parse(c: &mut Criterion) {
    let signed = messages();
    let unsigned = unsigned(&signed);
    assert!(
        unsigned
            .iter()
            .all(|m| parse(m).unwrap().signature().is_none())
    );
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(signed.len() as u64));
    for (messages, name) in [
        (&signed, "demo serials, ]d2 element strings with AI 8030"),
        (
            &unsigned,
            "demo serials, ]d2 element strings without a signature",
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                for m in messages {
                    black_box(parse(black_box(m)).unwrap());
                }
            });
        });
    }
    group.finish();
}

fn bench_decode(c: &mut Criterion) {
    let jsonl = include_str!("../../fixtures/demo/serials.jsonl");
    let demo = demo_serials(jsonl, 2);
    let located = DecodeOptions::default();
    let whole = DecodeOptions {
        locate: false,
        ..DecodeOptions::default()
    };
    let mut group = c.benchmark_group("decode 1280x720");
    group.sample_size(30);
    // The camera frames of `fixtures/labels/frames/`: a bright, an ordinary and a dim scene of
    // cartons and shipping labels, with one printed GS1 DataMatrix label and without.
    for (n, spec) in FRAMES.iter().enumerate() {
        let text = &demo[n].element_string;
        let frame = spec.with_datamatrix(text, spec.module_px, spec.x, spec.y);
        let empty = spec.empty();
        let decoded = decode_luma(1280, 720, &frame.px, &located);
        assert!(decoded.iter().any(|d| &d.text == text), "frame {n}");
        assert!(
            decode_luma(1280, 720, &empty.px, &located).is_empty(),
            "scene {n}"
        );
        for (options, how) in [(&located, "located"), (&whole, "whole frame")] {
            group.bench_function(format!("scene {n}, one GS1 DataMatrix, {how}"), |b| {
                b.iter(|| black_box(decode_luma(1280, 720, black_box(&frame.px), options)));
            });
            group.bench_function(format!("scene {n}, no code, {how}"), |b| {
                b.iter(|| black_box(decode_luma(1280, 720, black_box(&empty.px), options)));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_parse, bench_decode);
criterion_main!(benches);
