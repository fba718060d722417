// The app's commands, typed. Errors arrive as { kind, message }; callers branch on `kind`.
import { invoke } from "@tauri-apps/api/core";

export type VerdictKind =
  | "ok" | "not_on_manifest" | "duplicate" | "wrong_product" | "expired" | "recalled"
  | "reported_counterfeit" | "signature_invalid" | "already_sold" | "quarantined" | "unreadable"
  | "provisional";

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
  expired: string[];
  recalled: string[];
}

export interface Manifest {
  id: string;
  source: string | null;
  destination: string | null;
  shipped_at: string | null;
  logistic_units: number;
  status: string;
  closed_by: string | null;
  closed_at: string | null;
  closing_note: string | null;
  discrepancies: Progress | null;
  progress: Progress;
  /** Every close, earliest first: one per device that closed the receipt. */
  closes?: ManifestClose[];
  /** Units received after the receipt was closed, with every receipt of each. */
  after_close?: { epc: string; receipts: { by: string; at: string }[] }[];
  /** What waits for a person, in words: scans no close counted, closes that disagree. */
  review?: string[];
}

export interface ManifestClose {
  by: string;
  org: string | null;
  at: string;
  note: string | null;
  discrepancies: Progress | null;
}

export interface FlagStep {
  status: string;
  by?: string | null;
  at?: string | null;
  note?: string | null;
}

/** One status of the flag lifecycle, as the ledger enforces it (`flag_lifecycle`). */
export interface LifecycleStep {
  status: string;
  /** Where a flag at this status may move: forward only. */
  moves: string[];
  /** Whether moving to this status needs a note. */
  needs_note: boolean;
}

export interface Flag {
  id: string;
  kind: string;
  epc: string;
  reason: string;
  raised_at: string;
  event?: string;
  status: string;
  history?: FlagStep[];
  /** How many units the flag lists (it stands for one cause), `epc` being the first. */
  units?: number;
  /** How many of them the hub has not found accounted for yet. */
  open_units?: number;
}

/** A unit a flag lists. */
export interface FlagUnit {
  flag: string;
  epc: string;
  event: string;
  /** Why the hub found it accounted for, once it has. */
  resolved?: string;
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
  link: { state: "unknown" | "online" | "offline" | "refused"; detail: string | null };
}

export interface Link {
  event: string;
  time: string;
  step: string;
  disposition: string | null;
  org: string;
  site: string;
  source: string | null;
  destination: string | null;
  transaction: string | null;
  via: string | null;
  detail?: string;
}

/** The hold a unit in quarantine is under. */
export interface Quarantine {
  event: string;
  since: string;
  org: string;
  site: string;
  reason: string;
}

export interface Hold extends Quarantine {
  released: { event: string; at: string; org: string; site: string; note: string | null } | null;
}

export interface Custody {
  epc: string;
  state: string;
  custodian: string | null;
  site: string | null;
  owner: string | null;
  shipped_to: string | null;
  installed_in: string | null;
  ended_by: string | null;
  after_end: string[];
  quarantine: Quarantine | null;
  chain: Link[];
}

export interface Warranty {
  months: number;
  starts_at: "sale" | "registration" | "manufacture";
  start: string;
  end: string;
  in_period: boolean;
  remaining_days: number;
  registered_owner: string | null;
  /** Set when the cover is a new one: the unit came back from an earlier consumer (RFC 3339). */
  renewed_after?: string;
  claim_threshold: number;
}

export interface ClaimValidation {
  outcome: string;
  accepted: boolean;
  reason: string;
  provisional: boolean;
}

export interface Claim {
  event: string;
  time: string;
  org: string;
  site: string;
  defect: string;
  note: string | null;
  validation: ClaimValidation;
}

export interface Repair {
  order: string;
  time: string;
  org: string;
  site: string;
  event: string | null;
  refurbished: boolean;
  parts_in: string[];
  parts_out: string[];
}

export interface Part {
  epc: string;
  label: string;
  since: string;
  order: string | null;
}

export interface CounterfeitNote {
  event: string;
  time: string;
  org: string;
  site: string;
  note: string;
  photo: string | null;
  /** The SHA-256 of the photo's bytes, which the event records. */
  photo_sha256: string | null;
}

export interface History {
  epc: string;
  label: string;
  product: string | null;
  custody: Custody;
  warranty: Warranty | null;
  claims: Claim[];
  service: Repair[];
  parts: Part[];
  fitted_into: { unit: string; label: string; installed: string; removed: string | null }[];
  counterfeit_reports: CounterfeitNote[];
  quarantines: Hold[];
  corrections: unknown[];
  contents: string[];
  flags: Flag[];
}

export interface Recorded {
  events: string[];
  history: History;
}

export interface ClaimRecorded {
  event: string;
  validation: ClaimValidation;
  history: History;
}

export interface PickLine {
  gtin: string;
  product: string | null;
  quantity: number;
  picked: number;
}

export interface Picking {
  id: string;
  to: string;
  status: string;
  closed_at: string | null;
  lines: PickLine[];
  left: number;
  units: string[];
}

/** An order closed: what shipped, its outbound manifest (EPCIS 2.0) and the file it was
 * written to. */
export interface Shipped {
  order: Picking;
  manifest: unknown;
  manifest_file: string;
}

export interface ApiError {
  kind: "not_enrolled" | "offline" | "refused" | "invalid" | "not_found" | "camera" | "internal";
  message: string;
}

export const api = {
  status: () => invoke<Status>("status"),
  enroll: (token: string) => invoke<Status>("enroll", { token }),
  sync: () => invoke<unknown>("sync_now"),
  manifests: () => invoke<Manifest[]>("manifests"),
  scan: (raw: string, step: string, manifest: string | null, layout: string) =>
    invoke<Verdict>("scan", { raw, step, manifest, layout }),
  findManifest: (code: string) => invoke<string | null>("find_manifest", { code }),
  closeManifest: (id: string) => invoke<Manifest>("close_manifest", { id }),
  flags: () => invoke<Flag[]>("flags"),
  flagUnits: (id: string) => invoke<FlagUnit[]>("flag_units", { id }),
  flagLifecycle: () => invoke<LifecycleStep[]>("flag_lifecycle"),
  moveFlag: (id: string, status: string, note: string | null) => invoke<Flag>("move_flag", { id, status, note }),
  orders: () => invoke<Picking[]>("orders"),
  closeOrder: (id: string) => invoke<Shipped>("close_order", { id }),
  recentScans: (limit: number) => invoke<LoggedScan[]>("recent_scans", { limit }),
  history: (code: string) => invoke<History>("history", { code }),
  registerWarranty: (code: string, owner: string) => invoke<Recorded>("register_warranty", { code, owner }),
  claimWarranty: (code: string, defect: string, note: string | null) =>
    invoke<ClaimRecorded>("claim_warranty", { code, defect, note }),
  recordRepair: (code: string, partsIn: string[], partsOut: string[], order: string | null) =>
    invoke<Recorded>("record_repair", { code, partsIn, partsOut, order }),
  reportCounterfeit: (code: string, note: string, photo: boolean) => invoke<Recorded>("report_counterfeit", { code, note, photo }),
  cameras: () => invoke<{ id: string; name: string }[]>("cameras"),
  cameraStart: (id: string) => invoke<void>("camera_start", { id }),
  cameraStop: () => invoke<void>("camera_stop"),
  returnUnit: (code: string, outcome: "refurbished" | "scrapped") => invoke<Recorded>("return_unit", { code, outcome }),
  quarantine: (code: string, reason: string) => invoke<Recorded>("quarantine", { code, reason }),
  release: (code: string, note: string) => invoke<Recorded>("release", { code, note }),
};

export function errorMessage(e: unknown): string {
  if (e && typeof e === "object" && "message" in e) return String((e as ApiError).message);
  return String(e);
}
