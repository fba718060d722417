"""Side-by-side decoding of the label corpus: the zxing-cpp half, and the report.

Used by scripts/compare-decoders.sh, which runs both decoders over the same images in one run:

  compare_decoders.py in-frame SRC DST   the degraded labels of SRC pasted into SRC's empty 720p
                                         camera scenes (frames/empty-N.png), written to DST with
                                         a manifest in the same format
  compare_decoders.py zxing DIR          decodes DIR's manifest with zxing-cpp (fast and
                                         thorough settings) and prints the same figures as
                                         `custodian bench decode --json`
  compare_decoders.py report WORK        prints the comparison of WORK/{ours,zxing}-*.json

Detection counts a code as found when the decoder reports its symbology identifier and its
exact text (GS1 data with GS separators, as zxing-cpp's plain text mode gives it). Times are
per decode call on an image already in memory, as `custodian bench decode` measures its own.
"""

import json
import os
import re
import statistics
import sys
import time

import numpy as np
import zxingcpp
from PIL import Image

FRAME_RUNS = 25
GS1_CARRIERS = (
    zxingcpp.BarcodeFormat.DataMatrix,
    zxingcpp.BarcodeFormat.QRCode,
    zxingcpp.BarcodeFormat.Code128,
    zxingcpp.BarcodeFormat.EAN13,
    zxingcpp.BarcodeFormat.UPCA,
)
# The live-camera settings of both decoders: the GS1 carriers only, no extra passes. And the
# thorough ones: zxing-cpp's defaults (all formats, rotated, downscaled and inverted passes),
# against custodian's TryHarder.
SETTINGS = {
    "": dict(formats=GS1_CARRIERS, try_rotate=False, try_downscale=False, try_invert=False),
    "_thorough": dict(),
}


def manifest(directory):
    """The images of a corpus in manifest order: (set, variant, file, [(aim, text)])."""
    images = []
    with open(os.path.join(directory, "manifest.tsv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            set_, file, aim, expected = cols[0], cols[1], cols[3], cols[4]
            variant = cols[5] if len(cols) > 5 else set_
            code = (aim, unescape(expected)) if aim else None
            if images and images[-1][2] == file:
                if code:
                    images[-1][3].append(code)
                continue
            images.append((set_, variant, file, [code] if code else []))
    return images


def unescape(text):
    """A manifest's expected text: \\xHH stands for the byte HH (GS, tabs, line breaks)."""
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)


def luma(path):
    """The image as 8-bit grey, converted as custodian converts it (the image crate's Rec. 709
    weights), so that both decoders are given the same pixels."""
    image = Image.open(path)
    if image.mode in ("L", "I;16", "1"):
        return np.ascontiguousarray(np.array(image.convert("L")))
    rgb = np.array(image.convert("RGB"), dtype=np.float32)
    grey = rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722
    return np.ascontiguousarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8))


def paste_position(i, width, height):
    """Where the i-th degraded label goes (as tests/support/labels.rs places them)."""
    x = 40 + (i * 397) % max(1200 - width, 1)
    y = 40 + (i * 211) % max(640 - height, 1)
    return x, y


def in_frame(src, dst):
    scenes = sorted(
        f for _, _, f, codes in manifest(src) if f.startswith("frames/empty-")
    )
    backgrounds = [np.array(Image.open(os.path.join(src, f)).convert("L")) for f in scenes]
    os.makedirs(os.path.join(dst, "degraded"), exist_ok=True)
    lines = ["set\tfile\tsymbol\taim\texpected\tvariant\n"]
    degraded = [m for m in manifest(src) if m[0] == "degraded"]
    for i, (_, variant, file, codes) in enumerate(degraded):
        label = np.array(Image.open(os.path.join(src, file)).convert("L"))
        frame = backgrounds[i % len(backgrounds)].copy()
        h, w = label.shape
        x, y = paste_position(i, w, h)
        h, w = min(h, 720 - y), min(w, 1280 - x)
        frame[y : y + h, x : x + w] = label[:h, :w]
        Image.fromarray(frame).save(os.path.join(dst, file))
        for aim, text in codes:
            escaped = text.replace("\x1d", "\\x1d")
            lines.append(f"degraded\t{file}\t-\t{aim}\t{escaped}\t{variant}\n")
    with open(os.path.join(dst, "manifest.tsv"), "w", encoding="utf-8") as f:
        f.writelines(lines)


def hits(codes, results):
    """Codes read with their text and an AIM identifier that begins with the manifest's (`]Q`
    in the real-photo corpus is any QR code; `]d2` in the label corpus exactly that)."""
    return sum(
        1 for aim, text in codes
        if any(r.symbology_identifier.startswith(aim) and same_text(aim, r.text, text)
               for r in results)
    )


def same_text(aim, a, b):
    """Equal texts; EAN/UPC as the same GTIN (zxing-cpp reports a UPC-A as the EAN-13 with a
    leading 0, custodian as its 12 digits)."""
    if aim.startswith("]E"):
        return a.zfill(13) == b.zfill(13)
    return a == b


def decode(pixels, settings):
    started = time.perf_counter()
    results = zxingcpp.read_barcodes(pixels, text_mode=zxingcpp.TextMode.Plain, **settings)
    return results, (time.perf_counter() - started) * 1e3


def zxing(directory):
    images = [
        (set_, variant, file, codes,
         luma(os.path.join(directory, file)))
        for set_, variant, file, codes in manifest(directory)
    ]
    figures = {"decoder": f"zxing-cpp {getattr(zxingcpp, '__version__', '')}".strip()}
    if images:
        decode(images[0][4], SETTINGS[""])  # warm-up
    for set_, key in (("frame", "frame_with_code_ms"), ("empty", "empty_frame_ms")):
        frames = [i for i in images if i[0] == set_]
        times, right = [], 0
        for _, _, _, codes, pixels in frames:
            results, _ = decode(pixels, SETTINGS[""])
            right += hits(codes, results) == len(codes) == len(results)
            times += [decode(pixels, SETTINGS[""])[1] for _ in range(FRAME_RUNS)]
        figures[key] = round(statistics.median(times), 3) if times else None
        figures[f"{set_}_frames_right"] = f"{right}/{len(frames)}"
    scored = [i for i in images if i[0] not in ("frame", "empty")]
    for suffix, settings in SETTINGS.items():
        by_set, by_variant, times, set_ms, false_positives = {}, {}, [], {}, 0
        for set_, variant, _, codes, pixels in scored:
            results, ms = decode(pixels, settings)
            times.append(ms)
            n = hits(codes, results)
            if not codes:
                false_positives += len(results)
            for key, table in ((set_, by_set), (variant, by_variant)):
                h, t = table.get(key, (0, 0))
                table[key] = (h + n, t + len(codes))
            total, count = set_ms.get(set_, (0.0, 0))
            set_ms[set_] = (total + ms, count + 1)
        figures[f"detected_all{suffix}"] = (
            f"{sum(h for h, _ in by_set.values())}/{sum(t for _, t in by_set.values())}"
        )
        figures[f"false_positives{suffix}"] = false_positives
        figures[f"ms_per_image_by_set{suffix}"] = {
            k: round(total / count, 3) for k, (total, count) in sorted(set_ms.items())
        }
        h, t = by_set.get("degraded", (0, 0))
        figures[f"detection_rate{suffix}"] = round(h / max(t, 1), 3)
        figures[f"detected{suffix}"] = f"{h}/{t}"
        figures[f"detected_by_set{suffix}"] = {k: f"{h}/{t}" for k, (h, t) in sorted(by_set.items())}
        figures[f"detected_by_variant{suffix}"] = {
            k: f"{h}/{t}" for k, (h, t) in sorted(by_variant.items())
        }
        figures[f"corpus_ms_per_image{suffix}"] = round(sum(times) / max(len(times), 1), 3)
    figures["corpus_images"] = len(scored)
    print(json.dumps(figures))


def report(work):
    def load(name):
        with open(os.path.join(work, name), encoding="utf-8") as f:
            return json.load(f)

    photos(load("ours-photos.json"), load("zxing-photos.json"))
    for corpus, title in (("labels", "label corpus (fixtures/labels)"),
                          ("in-frame", "degraded labels pasted into 1280x720 camera scenes")):
        ours, theirs = load(f"ours-{corpus}.json"), load(f"zxing-{corpus}.json")
        print(f"\n== {title}: {ours['corpus_images']} images")
        for suffix, label in (("", "live settings (GS1 carriers, no extra passes)"),
                              ("_thorough", "thorough (custodian TryHarder; zxing-cpp defaults)")):
            print(f"\n   {label}")
            print(f"   {'variant':<12} {'custodian':>10} {'zxing-cpp':>10}")
            a, b = ours[f"detected_by_variant{suffix}"], theirs[f"detected_by_variant{suffix}"]
            for variant in sorted(set(a) | set(b)):
                print(f"   {variant:<12} {a.get(variant, '-'):>10} {b.get(variant, '-'):>10}")
            print(f"   {'degraded':<12} {ours[f'detected{suffix}']:>10} {theirs[f'detected{suffix}']:>10}"
                  f"   ({ours[f'detection_rate{suffix}']:.3f} vs {theirs[f'detection_rate{suffix}']:.3f})")
            ta, tb = ours[f"corpus_ms_per_image{suffix}"], theirs[f"corpus_ms_per_image{suffix}"]
            print(f"   {'ms/image':<12} {ta:>10.3f} {tb:>10.3f}   custodian/zxing-cpp time {ta / tb:.2f}")
        if ours.get("frame_with_code_ms") is not None:
            print("\n   1280x720 camera frames, live settings, median ms (frames decoded right)")
            for key, set_ in (("frame_with_code_ms", "frame"), ("empty_frame_ms", "empty")):
                ta, tb = ours[key], theirs[key]
                print(f"   {key:<20} {ta:>8.3f} ({ours[f'{set_}_frames_right']}) "
                      f"{tb:>8.3f} ({theirs[f'{set_}_frames_right']})   ratio {ta / tb:.2f}")


def photos(ours, theirs):
    """The real-photo corpus, family by family: codes read, symbols read in photos without a
    code, and mean time per image."""
    print(f"\n== real photographs (fixtures/photos): {ours['corpus_images']} images")
    for suffix, label in (("", "live settings (GS1 carriers, no extra passes)"),
                          ("_thorough", "thorough (custodian TryHarder; zxing-cpp defaults)")):
        print(f"\n   {label}")
        print(f"   {'family':<12} {'custodian':>10} {'zxing-cpp':>10}   {'ms/image':>8} {'ms/image':>8}")
        a, b = ours[f"detected_by_set{suffix}"], theirs[f"detected_by_set{suffix}"]
        ta, tb = ours[f"ms_per_image_by_set{suffix}"], theirs[f"ms_per_image_by_set{suffix}"]
        for family in sorted(set(a) | set(b)):
            print(f"   {family:<12} {a.get(family, '-'):>10} {b.get(family, '-'):>10}"
                  f"   {ta.get(family, 0):>8.2f} {tb.get(family, 0):>8.2f}")
        print(f"   {'all':<12} {ours[f'detected_all{suffix}']:>10} {theirs[f'detected_all{suffix}']:>10}"
              f"   {ours[f'corpus_ms_per_image{suffix}']:>8.2f} {theirs[f'corpus_ms_per_image{suffix}']:>8.2f}")
        print(f"   {'false pos.':<12} {ours[f'false_positives{suffix}']:>10} "
              f"{theirs[f'false_positives{suffix}']:>10}   (symbols read in photos without a code)")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"in-frame": in_frame, "zxing": zxing, "report": report}[command](*args)
