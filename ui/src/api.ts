// The app's commands, typed. Errors arrive as { kind, message }; callers branch on `kind`.
import { invoke } from "@tauri-apps/api/core";

export type VerdictKind =
  | "ok" | "not_on_manifest" | "duplicate" | "wrong_product" | "expired" | "recalled"
  | "reported_counterfeit" | "signature_invalid" | "already_sold" | "unreadable" | "provisional";

export interface Verdict {
  verdict: VerdictKind;
  reason: string;
  provisional: boolean;
  epc: string | null;
  label: string | null;
  product: string | null;
  manifest: string | null;
  event: string | null;
}

export interface Progress {
  expected: number;
  scanned: number;
  missing: string[];
  unexpected: string[];
  wrong_product: string[];
  duplicates: string[];
}

export interface Manifest {
  id: string;
  source: string | null;
  destination: string | null;
  status: string;
  closing_note: string | null;
  progress: Progress;
}

export interface Flag {
  id: string;
  kind: string;
  epc: string;
  reason: string;
  raised_at: string;
  status: string;
}

export interface LoggedScan {
  at: string;
  step: string;
  raw: string;
  verdict: Verdict;
}

export interface Status {
  enrolled: boolean;
  device: string | null;
  org: string | null;
  site: string | null;
  hub: string | null;
  last_sync: string | null;
  waiting: number;
  events: number;
  link: { state: "unknown" | "online" | "offline"; detail: string | null };
}

export interface ApiError {
  kind: "not_enrolled" | "offline" | "refused" | "invalid" | "not_found" | "internal";
  message: string;
}

export const api = {
  status: () => invoke<Status>("status"),
  enroll: (token: string) => invoke<Status>("enroll", { token }),
  sync: () => invoke<unknown>("sync_now"),
  manifests: () => invoke<Manifest[]>("manifests"),
  scan: (raw: string, step: string, manifest: string | null) => invoke<Verdict>("scan", { raw, step, manifest }),
  closeManifest: (id: string) => invoke<Manifest>("close_manifest", { id }),
  flags: () => invoke<Flag[]>("flags"),
  recentScans: (limit: number) => invoke<LoggedScan[]>("recent_scans", { limit }),
};

export function errorMessage(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as ApiError).message);
  return String(e);
}
