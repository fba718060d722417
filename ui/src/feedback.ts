// The verdict feedback every screen shares: the whole screen flashes in the verdict's colour,
// sounds its pattern, vibrates where it can and says the reason in words; and the scan path's
// timings (the Device screen shows them, the window's tests read them).
import { api, type Verdict } from "./api";
import { $ } from "./dom";
import { state, shell } from "./state";
import { VERDICTS, type Tone } from "./verdicts";

/** Times from a scan's last keystroke to its verdict on screen, in ms (the timing test). */
const latencies: number[] = [];
(window as unknown as { custodianLatencies: number[] }).custodianLatencies = latencies;

export function say(tone: Tone | "idle", word: string, reason: string, kind = tone as string) {
  const panel = $("verdict");
  panel.dataset.verdict = kind;
  panel.dataset.tone = tone;
  $("verdict-word").textContent = word;
  $("verdict-reason").textContent = reason;
  if (tone === "idle") return;
  const flash = $("flash");
  flash.dataset.tone = tone;
  flash.classList.remove("on");
  void flash.offsetWidth; // restart the animation
  flash.classList.add("on");
  beep(tone);
  if (state.settings.vibration && "vibrate" in navigator) navigator.vibrate(tone === "good" ? 40 : tone === "caution" ? [60, 50, 60] : [120, 60, 120, 60, 120]);
}

export function showVerdict(v: Verdict) {
  const look = VERDICTS[v.verdict];
  const reason = v.provisional && v.verdict !== "provisional" ? `${v.reason} (provisional: confirmed at the next sync)` : v.reason;
  say(look.tone, look.word, reason, v.verdict);
}

export function showError(message: string) {
  say("bad", "Not recorded", message, "error");
}

let audio: AudioContext | null = null;
function beep(tone: Tone) {
  if (!state.settings.sound) return;
  try {
    audio ??= new AudioContext();
    const pattern = tone === "good" ? [880] : tone === "caution" ? [660, 660] : [220, 180, 220];
    pattern.forEach((hz, i) => {
      const osc = audio!.createOscillator();
      const gain = audio!.createGain();
      osc.type = tone === "bad" ? "square" : "sine";
      osc.frequency.value = hz;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(audio!.destination);
      const t = audio!.currentTime + i * 0.14;
      osc.start(t);
      osc.stop(t + 0.1);
    });
  } catch {
    // No audio device: the flash and the words still say it.
  }
}

/** Runs `work` once the frame with the verdict has been painted: what can wait, waits. */
export function afterPaint(work: () => void) {
  requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(work, 0)));
}

/** Records when the verdict reached the screen (the frame after it was drawn). */
export function measure(since: number) {
  requestAnimationFrame(() =>
    requestAnimationFrame(() => {
      latencies.push(performance.now() - since);
      if (latencies.length > 10000) latencies.shift();
      renderTiming();
    }),
  );
}

/** The last burst's timing and the last verdict's latency, on the Device screen. */
export function renderTiming() {
  const t = state.wedge.last;
  const last = latencies.at(-1);
  const lines: string[] = [];
  if (t) {
    lines.push(
      `${t.scan ? "Scan" : "Typing, not a scan"}: ${t.chars} characters, key gaps ${t.meanGapMs.toFixed(1)} ms on average, longest ${t.maxGapMs.toFixed(0)} ms` +
        (t.slowGaps ? `, ${t.slowGaps} pause(s) over ${state.settings.maxGapMs} ms` : ""),
    );
  }
  if (last !== undefined) lines.push(`Last verdict on screen ${last.toFixed(0)} ms after the last key.`);
  if (lines.length) $("timing").textContent = lines.join(". ");
}

/** Of those, the part until the ledger's answer arrived (recorded durably), in ms. */
const answered: number[] = [];
(window as unknown as { custodianAnswered: number[] }).custodianAnswered = answered;

/** Records a scan at `step` (against `manifest`) and shows its verdict. */
export async function record(raw: string, step: string, manifest: string | null, since: number): Promise<Verdict> {
  const v = await api.scan(raw, step, manifest, state.settings.layout);
  answered.push(performance.now() - since);
  if (answered.length > 10000) answered.shift();
  showVerdict(v);
  measure(since);
  // The counts follow the scan at once; the ledger's own count comes with the next tick (a
  // count over a large ledger per scan would compete with the next scan for the CPU).
  if (v.event && state.status) {
    state.status = { ...state.status, events: state.status.events + 1, waiting: state.status.waiting + 1 };
    const shown = state.status;
    afterPaint(() => shell.renderStatus(shown));
  }
  return v;
}
