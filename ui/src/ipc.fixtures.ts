// What the app's commands answer, written by src-tauri/src/ipc_fixtures.rs from a real
// ledger and type-checked against api.ts by the build. Do not edit: regenerate it.
import type {
  ApiError, ClaimRecorded, Flag, FlagUnit, History, LifecycleStep, LoggedScan, Manifest,
  Picking, Recorded, Shipped, Status, Verdict,
} from "./api";

export const verdictReceived = {
  "verdict": "ok",
  "reason": "GTIN 04012345000016 serial R1 is on ASN-7",
  "provisional": false,
  "epc": "https://id.gs1.org/01/04012345000016/21/R1",
  "label": "GTIN 04012345000016 serial R1",
  "product": "Cordless drill",
  "manifest": "ASN-7",
  "event": "ni:///sha-256;a4765aef31d97b96f0d4e77522bc50bd058a74e5ac62e9bf9e455d83710d95a4"
} satisfies Verdict;

export const verdictSold = {
  "verdict": "provisional",
  "reason": "GTIN 04012345000016 serial R1: Cordless drill — nothing known against it; awaiting confirmation by the hub",
  "provisional": true,
  "epc": "https://id.gs1.org/01/04012345000016/21/R1",
  "label": "GTIN 04012345000016 serial R1",
  "product": "Cordless drill",
  "manifest": null,
  "event": "ni:///sha-256;cf3897e3139574cd41fa38f9c58518a9ee2dc57073bf93c4f4ed5a9fe406bacb"
} satisfies Verdict;

export const manifests = [
  {
    "id": "ASN-7",
    "source": "dist-a",
    "destination": "retail-c",
    "shipped_at": "2026-11-01T08:00:00+01:00",
    "logistic_units": 0,
    "status": "open",
    "closed_by": null,
    "closed_at": null,
    "closing_note": null,
    "discrepancies": null,
    "progress": {
      "expected": 2,
      "scanned": 1,
      "missing": [
        "https://id.gs1.org/01/04012345000016/21/R2"
      ],
      "unexpected": [],
      "wrong_product": [],
      "duplicates": [],
      "expired": [],
      "recalled": []
    },
    "closes": [],
    "after_close": [],
    "review": []
  },
  {
    "id": "SO-9",
    "source": "retail-c",
    "destination": "retail-d",
    "shipped_at": "2026-11-04T09:00:00+01:00",
    "logistic_units": 0,
    "status": "open",
    "closed_by": null,
    "closed_at": null,
    "closing_note": null,
    "discrepancies": null,
    "progress": {
      "expected": 1,
      "scanned": 0,
      "missing": [
        "https://id.gs1.org/01/04012345000016/21/R2"
      ],
      "unexpected": [],
      "wrong_product": [],
      "duplicates": [],
      "expired": [],
      "recalled": []
    },
    "closes": [],
    "after_close": [],
    "review": []
  }
] satisfies Manifest[];

export const recentScans = [
  {
    "at": "2026-11-02T11:00:00+01:00",
    "step": "retail_selling",
    "raw": "010401234500001621R1",
    "verdict": {
      "verdict": "provisional",
      "reason": "GTIN 04012345000016 serial R1: Cordless drill — nothing known against it; awaiting confirmation by the hub",
      "provisional": true,
      "epc": "https://id.gs1.org/01/04012345000016/21/R1",
      "label": "GTIN 04012345000016 serial R1",
      "product": "Cordless drill",
      "manifest": null,
      "event": "ni:///sha-256;cf3897e3139574cd41fa38f9c58518a9ee2dc57073bf93c4f4ed5a9fe406bacb"
    }
  },
  {
    "at": "2026-11-02T10:00:00+01:00",
    "step": "receiving",
    "raw": "010401234500001621R1",
    "verdict": {
      "verdict": "ok",
      "reason": "GTIN 04012345000016 serial R1 is on ASN-7",
      "provisional": false,
      "epc": "https://id.gs1.org/01/04012345000016/21/R1",
      "label": "GTIN 04012345000016 serial R1",
      "product": "Cordless drill",
      "manifest": "ASN-7",
      "event": "ni:///sha-256;a4765aef31d97b96f0d4e77522bc50bd058a74e5ac62e9bf9e455d83710d95a4"
    }
  }
] satisfies LoggedScan[];

export const registered = {
  "events": [
    "ni:///sha-256;336987ee167ca1cedecac165016f65b93727b192eaf89fd9fa290d9fa1127339"
  ],
  "history": {
    "epc": "https://id.gs1.org/01/04012345000016/21/R1",
    "label": "GTIN 04012345000016 serial R1",
    "product": "Cordless drill",
    "custody": {
      "epc": "https://id.gs1.org/01/04012345000016/21/R1",
      "state": "sold_to_consumer",
      "custodian": "consumer",
      "site": null,
      "owner": "J. Doe",
      "shipped_to": "retail-c",
      "installed_in": null,
      "ended_by": null,
      "after_end": [],
      "quarantine": null,
      "chain": [
        {
          "event": "ni:///sha-256;dba349069597689b43d0c5b5f44b6513da6b4f508bcdeac97f666022f26647dc",
          "time": "2026-11-01T08:00:00+01:00",
          "step": "shipping",
          "disposition": "in_transit",
          "org": "external",
          "site": "external",
          "source": "dist-a",
          "destination": "retail-c",
          "transaction": "ASN-7",
          "via": null
        },
        {
          "event": "ni:///sha-256;a4765aef31d97b96f0d4e77522bc50bd058a74e5ac62e9bf9e455d83710d95a4",
          "time": "2026-11-02T10:00:00+01:00",
          "step": "receiving",
          "disposition": "in_progress",
          "org": "retail-c",
          "site": "store-1",
          "source": "dist-a",
          "destination": "retail-c",
          "transaction": "ASN-7",
          "via": null
        },
        {
          "event": "ni:///sha-256;cf3897e3139574cd41fa38f9c58518a9ee2dc57073bf93c4f4ed5a9fe406bacb",
          "time": "2026-11-02T11:00:00+01:00",
          "step": "retail_selling",
          "disposition": "retail_sold",
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null
        },
        {
          "event": "ni:///sha-256;336987ee167ca1cedecac165016f65b93727b192eaf89fd9fa290d9fa1127339",
          "time": "2026-11-02T11:05:00+01:00",
          "step": "other",
          "disposition": null,
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null,
          "detail": "warranty_registration"
        }
      ]
    },
    "warranty": {
      "months": 24,
      "starts_at": "sale",
      "start": "2026-11-02T11:00:00+01:00",
      "end": "2028-11-02T11:00:00+01:00",
      "in_period": true,
      "remaining_days": 730,
      "registered_owner": "J. Doe",
      "claim_threshold": 3
    },
    "claims": [],
    "service": [],
    "parts": [],
    "fitted_into": [],
    "counterfeit_reports": [],
    "quarantines": [],
    "corrections": [],
    "contents": [],
    "flags": []
  }
} satisfies Recorded;

export const claimed = {
  "event": "ni:///sha-256;6048b2cb042d02d995fa140713e72b30ef379b33b6c34dc7f6259a05daa55e12",
  "validation": {
    "outcome": "valid",
    "accepted": true,
    "reason": "GTIN 04012345000016 serial R1: \"battery fault\" is covered until 2028-11-02 (claim 1 on this unit)",
    "provisional": true
  },
  "history": {
    "epc": "https://id.gs1.org/01/04012345000016/21/R1",
    "label": "GTIN 04012345000016 serial R1",
    "product": "Cordless drill",
    "custody": {
      "epc": "https://id.gs1.org/01/04012345000016/21/R1",
      "state": "sold_to_consumer",
      "custodian": "consumer",
      "site": null,
      "owner": "J. Doe",
      "shipped_to": "retail-c",
      "installed_in": null,
      "ended_by": null,
      "after_end": [],
      "quarantine": null,
      "chain": [
        {
          "event": "ni:///sha-256;dba349069597689b43d0c5b5f44b6513da6b4f508bcdeac97f666022f26647dc",
          "time": "2026-11-01T08:00:00+01:00",
          "step": "shipping",
          "disposition": "in_transit",
          "org": "external",
          "site": "external",
          "source": "dist-a",
          "destination": "retail-c",
          "transaction": "ASN-7",
          "via": null
        },
        {
          "event": "ni:///sha-256;a4765aef31d97b96f0d4e77522bc50bd058a74e5ac62e9bf9e455d83710d95a4",
          "time": "2026-11-02T10:00:00+01:00",
          "step": "receiving",
          "disposition": "in_progress",
          "org": "retail-c",
          "site": "store-1",
          "source": "dist-a",
          "destination": "retail-c",
          "transaction": "ASN-7",
          "via": null
        },
        {
          "event": "ni:///sha-256;cf3897e3139574cd41fa38f9c58518a9ee2dc57073bf93c4f4ed5a9fe406bacb",
          "time": "2026-11-02T11:00:00+01:00",
          "step": "retail_selling",
          "disposition": "retail_sold",
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null
        },
        {
          "event": "ni:///sha-256;336987ee167ca1cedecac165016f65b93727b192eaf89fd9fa290d9fa1127339",
          "time": "2026-11-02T11:05:00+01:00",
          "step": "other",
          "disposition": null,
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null,
          "detail": "warranty_registration"
        },
        {
          "event": "ni:///sha-256;6048b2cb042d02d995fa140713e72b30ef379b33b6c34dc7f6259a05daa55e12",
          "time": "2026-11-03T09:00:00+01:00",
          "step": "inspecting",
          "disposition": null,
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null,
          "detail": "warranty_claim"
        }
      ]
    },
    "warranty": {
      "months": 24,
      "starts_at": "sale",
      "start": "2026-11-02T11:00:00+01:00",
      "end": "2028-11-02T11:00:00+01:00",
      "in_period": true,
      "remaining_days": 730,
      "registered_owner": "J. Doe",
      "claim_threshold": 3
    },
    "claims": [
      {
        "event": "ni:///sha-256;6048b2cb042d02d995fa140713e72b30ef379b33b6c34dc7f6259a05daa55e12",
        "time": "2026-11-03T09:00:00+01:00",
        "org": "retail-c",
        "site": "store-1",
        "defect": "battery fault",
        "note": "will not charge",
        "validation": {
          "outcome": "valid",
          "accepted": true,
          "reason": "GTIN 04012345000016 serial R1: \"battery fault\" is covered until 2028-11-02 (claim 1 on this unit)",
          "provisional": true
        }
      }
    ],
    "service": [],
    "parts": [],
    "fitted_into": [],
    "counterfeit_reports": [],
    "quarantines": [],
    "corrections": [],
    "contents": [],
    "flags": []
  }
} satisfies ClaimRecorded;

export const repaired = {
  "events": [
    "ni:///sha-256;ebca2268f343e5dd5664a3129008720080db63fa2e5ff04d579462f7cbd5df9d",
    "ni:///sha-256;65a716041d22465198e4b4a5b7529a07bf86794388a5c547dd78bdee5bc54288"
  ],
  "history": {
    "epc": "https://id.gs1.org/01/04012345000016/21/R1",
    "label": "GTIN 04012345000016 serial R1",
    "product": "Cordless drill",
    "custody": {
      "epc": "https://id.gs1.org/01/04012345000016/21/R1",
      "state": "in_service",
      "custodian": "retail-c",
      "site": "store-1",
      "owner": "J. Doe",
      "shipped_to": "retail-c",
      "installed_in": null,
      "ended_by": null,
      "after_end": [],
      "quarantine": null,
      "chain": [
        {
          "event": "ni:///sha-256;dba349069597689b43d0c5b5f44b6513da6b4f508bcdeac97f666022f26647dc",
          "time": "2026-11-01T08:00:00+01:00",
          "step": "shipping",
          "disposition": "in_transit",
          "org": "external",
          "site": "external",
          "source": "dist-a",
          "destination": "retail-c",
          "transaction": "ASN-7",
          "via": null
        },
        {
          "event": "ni:///sha-256;a4765aef31d97b96f0d4e77522bc50bd058a74e5ac62e9bf9e455d83710d95a4",
          "time": "2026-11-02T10:00:00+01:00",
          "step": "receiving",
          "disposition": "in_progress",
          "org": "retail-c",
          "site": "store-1",
          "source": "dist-a",
          "destination": "retail-c",
          "transaction": "ASN-7",
          "via": null
        },
        {
          "event": "ni:///sha-256;cf3897e3139574cd41fa38f9c58518a9ee2dc57073bf93c4f4ed5a9fe406bacb",
          "time": "2026-11-02T11:00:00+01:00",
          "step": "retail_selling",
          "disposition": "retail_sold",
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null
        },
        {
          "event": "ni:///sha-256;336987ee167ca1cedecac165016f65b93727b192eaf89fd9fa290d9fa1127339",
          "time": "2026-11-02T11:05:00+01:00",
          "step": "other",
          "disposition": null,
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null,
          "detail": "warranty_registration"
        },
        {
          "event": "ni:///sha-256;6048b2cb042d02d995fa140713e72b30ef379b33b6c34dc7f6259a05daa55e12",
          "time": "2026-11-03T09:00:00+01:00",
          "step": "inspecting",
          "disposition": null,
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null,
          "detail": "warranty_claim"
        },
        {
          "event": "ni:///sha-256;ebca2268f343e5dd5664a3129008720080db63fa2e5ff04d579462f7cbd5df9d",
          "time": "2026-11-03T10:00:00+01:00",
          "step": "repairing",
          "disposition": "in_progress",
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": "WO-1",
          "via": null
        }
      ]
    },
    "warranty": {
      "months": 24,
      "starts_at": "sale",
      "start": "2026-11-02T11:00:00+01:00",
      "end": "2028-11-02T11:00:00+01:00",
      "in_period": true,
      "remaining_days": 730,
      "registered_owner": "J. Doe",
      "claim_threshold": 3
    },
    "claims": [
      {
        "event": "ni:///sha-256;6048b2cb042d02d995fa140713e72b30ef379b33b6c34dc7f6259a05daa55e12",
        "time": "2026-11-03T09:00:00+01:00",
        "org": "retail-c",
        "site": "store-1",
        "defect": "battery fault",
        "note": "will not charge",
        "validation": {
          "outcome": "valid",
          "accepted": true,
          "reason": "GTIN 04012345000016 serial R1: \"battery fault\" is covered until 2028-11-02 (claim 1 on this unit)",
          "provisional": true
        }
      }
    ],
    "service": [
      {
        "order": "WO-1",
        "time": "2026-11-03T10:00:00+01:00",
        "org": "retail-c",
        "site": "store-1",
        "event": "ni:///sha-256;ebca2268f343e5dd5664a3129008720080db63fa2e5ff04d579462f7cbd5df9d",
        "refurbished": false,
        "parts_in": [
          "https://id.gs1.org/01/04012345000016/21/P1"
        ],
        "parts_out": []
      }
    ],
    "parts": [
      {
        "epc": "https://id.gs1.org/01/04012345000016/21/P1",
        "label": "GTIN 04012345000016 serial P1",
        "since": "2026-11-03T10:00:00+01:00",
        "order": "WO-1"
      }
    ],
    "fitted_into": [],
    "counterfeit_reports": [],
    "quarantines": [],
    "corrections": [],
    "contents": [
      "https://id.gs1.org/01/04012345000016/21/P1"
    ],
    "flags": []
  }
} satisfies Recorded;

export const reported = {
  "events": [
    "ni:///sha-256;331760dcbb12ad2dd9c94f854383984ec6c6a55eebbf43e85a32787a75ca5083"
  ],
  "history": {
    "epc": "https://id.gs1.org/01/04012345000016/21/F1",
    "label": "GTIN 04012345000016 serial F1",
    "product": "Cordless drill",
    "custody": {
      "epc": "https://id.gs1.org/01/04012345000016/21/F1",
      "state": "unknown",
      "custodian": null,
      "site": null,
      "owner": null,
      "shipped_to": null,
      "installed_in": null,
      "ended_by": null,
      "after_end": [],
      "quarantine": null,
      "chain": [
        {
          "event": "ni:///sha-256;331760dcbb12ad2dd9c94f854383984ec6c6a55eebbf43e85a32787a75ca5083",
          "time": "2026-11-03T11:00:00+01:00",
          "step": "inspecting",
          "disposition": "non_sellable_other",
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null,
          "detail": "counterfeit_report"
        }
      ]
    },
    "warranty": null,
    "claims": [],
    "service": [],
    "parts": [],
    "fitted_into": [],
    "counterfeit_reports": [
      {
        "event": "ni:///sha-256;331760dcbb12ad2dd9c94f854383984ec6c6a55eebbf43e85a32787a75ca5083",
        "time": "2026-11-03T11:00:00+01:00",
        "org": "retail-c",
        "site": "store-1",
        "note": "hologram missing",
        "photo": "photos/5bb71a92573037d0e862768390ea8fb03ee3c5e92d7bc1a712f88c03f7ffbf78.jpg",
        "photo_sha256": "5bb71a92573037d0e862768390ea8fb03ee3c5e92d7bc1a712f88c03f7ffbf78"
      }
    ],
    "quarantines": [],
    "corrections": [],
    "contents": [],
    "flags": []
  }
} satisfies Recorded;

export const held = {
  "events": [
    "ni:///sha-256;b9037c44b4581ec6275adcf9e8d2bfc3486863cee5ca4acfa16c40b02e84aa47"
  ],
  "history": {
    "epc": "https://id.gs1.org/01/04012345000016/21/R2",
    "label": "GTIN 04012345000016 serial R2",
    "product": "Cordless drill",
    "custody": {
      "epc": "https://id.gs1.org/01/04012345000016/21/R2",
      "state": "in_transit",
      "custodian": null,
      "site": null,
      "owner": null,
      "shipped_to": "retail-c",
      "installed_in": null,
      "ended_by": null,
      "after_end": [],
      "quarantine": {
        "event": "ni:///sha-256;b9037c44b4581ec6275adcf9e8d2bfc3486863cee5ca4acfa16c40b02e84aa47",
        "since": "2026-11-03T12:00:00+01:00",
        "org": "retail-c",
        "site": "store-1",
        "reason": "carton crushed"
      },
      "chain": [
        {
          "event": "ni:///sha-256;dba349069597689b43d0c5b5f44b6513da6b4f508bcdeac97f666022f26647dc",
          "time": "2026-11-01T08:00:00+01:00",
          "step": "shipping",
          "disposition": "in_transit",
          "org": "external",
          "site": "external",
          "source": "dist-a",
          "destination": "retail-c",
          "transaction": "ASN-7",
          "via": null
        },
        {
          "event": "ni:///sha-256;b9037c44b4581ec6275adcf9e8d2bfc3486863cee5ca4acfa16c40b02e84aa47",
          "time": "2026-11-03T12:00:00+01:00",
          "step": "holding",
          "disposition": "non_sellable_other",
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null,
          "detail": "quarantine"
        }
      ]
    },
    "warranty": null,
    "claims": [],
    "service": [],
    "parts": [],
    "fitted_into": [],
    "counterfeit_reports": [],
    "quarantines": [
      {
        "event": "ni:///sha-256;b9037c44b4581ec6275adcf9e8d2bfc3486863cee5ca4acfa16c40b02e84aa47",
        "since": "2026-11-03T12:00:00+01:00",
        "org": "retail-c",
        "site": "store-1",
        "reason": "carton crushed",
        "released": null
      }
    ],
    "corrections": [],
    "contents": [],
    "flags": []
  }
} satisfies Recorded;

export const released = {
  "events": [
    "ni:///sha-256;9ed43ffb8193a252f3047de3d2a1e816341d70ce4cf3dcb79539ec6248dfe79c"
  ],
  "history": {
    "epc": "https://id.gs1.org/01/04012345000016/21/R2",
    "label": "GTIN 04012345000016 serial R2",
    "product": "Cordless drill",
    "custody": {
      "epc": "https://id.gs1.org/01/04012345000016/21/R2",
      "state": "in_transit",
      "custodian": null,
      "site": null,
      "owner": null,
      "shipped_to": "retail-c",
      "installed_in": null,
      "ended_by": null,
      "after_end": [],
      "quarantine": null,
      "chain": [
        {
          "event": "ni:///sha-256;dba349069597689b43d0c5b5f44b6513da6b4f508bcdeac97f666022f26647dc",
          "time": "2026-11-01T08:00:00+01:00",
          "step": "shipping",
          "disposition": "in_transit",
          "org": "external",
          "site": "external",
          "source": "dist-a",
          "destination": "retail-c",
          "transaction": "ASN-7",
          "via": null
        },
        {
          "event": "ni:///sha-256;b9037c44b4581ec6275adcf9e8d2bfc3486863cee5ca4acfa16c40b02e84aa47",
          "time": "2026-11-03T12:00:00+01:00",
          "step": "holding",
          "disposition": "non_sellable_other",
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null,
          "detail": "quarantine"
        },
        {
          "event": "ni:///sha-256;9ed43ffb8193a252f3047de3d2a1e816341d70ce4cf3dcb79539ec6248dfe79c",
          "time": "2026-11-03T13:00:00+01:00",
          "step": "holding",
          "disposition": "sellable_accessible",
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null,
          "detail": "release"
        }
      ]
    },
    "warranty": null,
    "claims": [],
    "service": [],
    "parts": [],
    "fitted_into": [],
    "counterfeit_reports": [],
    "quarantines": [
      {
        "event": "ni:///sha-256;b9037c44b4581ec6275adcf9e8d2bfc3486863cee5ca4acfa16c40b02e84aa47",
        "since": "2026-11-03T12:00:00+01:00",
        "org": "retail-c",
        "site": "store-1",
        "reason": "carton crushed",
        "released": {
          "event": "ni:///sha-256;9ed43ffb8193a252f3047de3d2a1e816341d70ce4cf3dcb79539ec6248dfe79c",
          "at": "2026-11-03T13:00:00+01:00",
          "org": "retail-c",
          "site": "store-1",
          "note": "unit fine"
        }
      }
    ],
    "corrections": [],
    "contents": [],
    "flags": []
  }
} satisfies Recorded;

export const returned = {
  "events": [
    "ni:///sha-256;6ea086bfddc6af2e45b931d264a1eb01b986b33297bc834bcddc8d5765dd8707",
    "ni:///sha-256;0986aeea7a15574240c38f63dda3f645d3ec833a33fd22a4b0c8e144b5ffc857"
  ],
  "history": {
    "epc": "https://id.gs1.org/01/04012345000016/21/T1",
    "label": "GTIN 04012345000016 serial T1",
    "product": "Cordless drill",
    "custody": {
      "epc": "https://id.gs1.org/01/04012345000016/21/T1",
      "state": "refurbished",
      "custodian": "retail-c",
      "site": "store-1",
      "owner": "retail-c",
      "shipped_to": null,
      "installed_in": null,
      "ended_by": null,
      "after_end": [],
      "quarantine": null,
      "chain": [
        {
          "event": "ni:///sha-256;6ea086bfddc6af2e45b931d264a1eb01b986b33297bc834bcddc8d5765dd8707",
          "time": "2026-11-03T14:00:00+01:00",
          "step": "receiving",
          "disposition": "returned",
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null
        },
        {
          "event": "ni:///sha-256;0986aeea7a15574240c38f63dda3f645d3ec833a33fd22a4b0c8e144b5ffc857",
          "time": "2026-11-03T14:00:00+01:00",
          "step": "repairing",
          "disposition": "sellable_accessible",
          "org": "retail-c",
          "site": "store-1",
          "source": null,
          "destination": null,
          "transaction": null,
          "via": null
        }
      ]
    },
    "warranty": null,
    "claims": [],
    "service": [
      {
        "order": "ni:///sha-256;0986aeea7a15574240c38f63dda3f645d3ec833a33fd22a4b0c8e144b5ffc857",
        "time": "2026-11-03T14:00:00+01:00",
        "org": "retail-c",
        "site": "store-1",
        "event": "ni:///sha-256;0986aeea7a15574240c38f63dda3f645d3ec833a33fd22a4b0c8e144b5ffc857",
        "refurbished": true,
        "parts_in": [],
        "parts_out": []
      }
    ],
    "parts": [],
    "fitted_into": [],
    "counterfeit_reports": [],
    "quarantines": [],
    "corrections": [],
    "contents": [],
    "flags": []
  }
} satisfies Recorded;

export const history = {
  "epc": "https://id.gs1.org/01/04012345000016/21/R1",
  "label": "GTIN 04012345000016 serial R1",
  "product": "Cordless drill",
  "custody": {
    "epc": "https://id.gs1.org/01/04012345000016/21/R1",
    "state": "in_service",
    "custodian": "retail-c",
    "site": "store-1",
    "owner": "J. Doe",
    "shipped_to": "retail-c",
    "installed_in": null,
    "ended_by": null,
    "after_end": [],
    "quarantine": null,
    "chain": [
      {
        "event": "ni:///sha-256;dba349069597689b43d0c5b5f44b6513da6b4f508bcdeac97f666022f26647dc",
        "time": "2026-11-01T08:00:00+01:00",
        "step": "shipping",
        "disposition": "in_transit",
        "org": "external",
        "site": "external",
        "source": "dist-a",
        "destination": "retail-c",
        "transaction": "ASN-7",
        "via": null
      },
      {
        "event": "ni:///sha-256;a4765aef31d97b96f0d4e77522bc50bd058a74e5ac62e9bf9e455d83710d95a4",
        "time": "2026-11-02T10:00:00+01:00",
        "step": "receiving",
        "disposition": "in_progress",
        "org": "retail-c",
        "site": "store-1",
        "source": "dist-a",
        "destination": "retail-c",
        "transaction": "ASN-7",
        "via": null
      },
      {
        "event": "ni:///sha-256;cf3897e3139574cd41fa38f9c58518a9ee2dc57073bf93c4f4ed5a9fe406bacb",
        "time": "2026-11-02T11:00:00+01:00",
        "step": "retail_selling",
        "disposition": "retail_sold",
        "org": "retail-c",
        "site": "store-1",
        "source": null,
        "destination": null,
        "transaction": null,
        "via": null
      },
      {
        "event": "ni:///sha-256;336987ee167ca1cedecac165016f65b93727b192eaf89fd9fa290d9fa1127339",
        "time": "2026-11-02T11:05:00+01:00",
        "step": "other",
        "disposition": null,
        "org": "retail-c",
        "site": "store-1",
        "source": null,
        "destination": null,
        "transaction": null,
        "via": null,
        "detail": "warranty_registration"
      },
      {
        "event": "ni:///sha-256;6048b2cb042d02d995fa140713e72b30ef379b33b6c34dc7f6259a05daa55e12",
        "time": "2026-11-03T09:00:00+01:00",
        "step": "inspecting",
        "disposition": null,
        "org": "retail-c",
        "site": "store-1",
        "source": null,
        "destination": null,
        "transaction": null,
        "via": null,
        "detail": "warranty_claim"
      },
      {
        "event": "ni:///sha-256;ebca2268f343e5dd5664a3129008720080db63fa2e5ff04d579462f7cbd5df9d",
        "time": "2026-11-03T10:00:00+01:00",
        "step": "repairing",
        "disposition": "in_progress",
        "org": "retail-c",
        "site": "store-1",
        "source": null,
        "destination": null,
        "transaction": "WO-1",
        "via": null
      }
    ]
  },
  "warranty": {
    "months": 24,
    "starts_at": "sale",
    "start": "2026-11-02T11:00:00+01:00",
    "end": "2028-11-02T11:00:00+01:00",
    "in_period": true,
    "remaining_days": 731,
    "registered_owner": "J. Doe",
    "claim_threshold": 3
  },
  "claims": [
    {
      "event": "ni:///sha-256;6048b2cb042d02d995fa140713e72b30ef379b33b6c34dc7f6259a05daa55e12",
      "time": "2026-11-03T09:00:00+01:00",
      "org": "retail-c",
      "site": "store-1",
      "defect": "battery fault",
      "note": "will not charge",
      "validation": {
        "outcome": "valid",
        "accepted": true,
        "reason": "GTIN 04012345000016 serial R1: \"battery fault\" is covered until 2028-11-02 (claim 1 on this unit)",
        "provisional": true
      }
    }
  ],
  "service": [
    {
      "order": "WO-1",
      "time": "2026-11-03T10:00:00+01:00",
      "org": "retail-c",
      "site": "store-1",
      "event": "ni:///sha-256;ebca2268f343e5dd5664a3129008720080db63fa2e5ff04d579462f7cbd5df9d",
      "refurbished": false,
      "parts_in": [
        "https://id.gs1.org/01/04012345000016/21/P1"
      ],
      "parts_out": []
    }
  ],
  "parts": [
    {
      "epc": "https://id.gs1.org/01/04012345000016/21/P1",
      "label": "GTIN 04012345000016 serial P1",
      "since": "2026-11-03T10:00:00+01:00",
      "order": "WO-1"
    }
  ],
  "fitted_into": [],
  "counterfeit_reports": [],
  "quarantines": [],
  "corrections": [],
  "contents": [
    "https://id.gs1.org/01/04012345000016/21/P1"
  ],
  "flags": []
} satisfies History;

export const orders = [
  {
    "id": "SO-9",
    "to": "retail-d",
    "status": "open",
    "closed_at": null,
    "lines": [
      {
        "gtin": "04012345000016",
        "product": "Cordless drill",
        "quantity": 1,
        "picked": 1
      }
    ],
    "left": 0,
    "units": [
      "https://id.gs1.org/01/04012345000016/21/R2"
    ]
  }
] satisfies Picking[];

export const shipped = {
  "order": {
    "id": "SO-9",
    "to": "retail-d",
    "status": "shipped",
    "closed_at": "2026-11-04T10:00:00+01:00",
    "lines": [
      {
        "gtin": "04012345000016",
        "product": "Cordless drill",
        "quantity": 1,
        "picked": 1
      }
    ],
    "left": 0,
    "units": [
      "https://id.gs1.org/01/04012345000016/21/R2"
    ]
  },
  "manifest": {
    "@context": [
      "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
      {
        "cust": "https://custodian.dev/epcis/"
      }
    ],
    "creationDate": "2026-11-04T10:00:00+01:00",
    "epcisBody": {
      "eventList": [
        {
          "action": "OBSERVE",
          "bizStep": "shipping",
          "bizTransactionList": [
            {
              "bizTransaction": "urn:custodian:bt:SO-9",
              "type": "desadv"
            }
          ],
          "cust:recordedBy": {
            "cust:device": "retail-c-1",
            "cust:org": "retail-c",
            "cust:site": "store-1"
          },
          "destinationList": [
            {
              "destination": "urn:custodian:org:retail-d",
              "type": "owning_party"
            }
          ],
          "disposition": "in_transit",
          "epcList": [
            "https://id.gs1.org/01/04012345000016/21/R2"
          ],
          "eventID": "ni:///sha-256;196008b8a3e4e7b9bec18adabccb448a8dafa0e9695d6070b54a2891a6eca24a",
          "eventTime": "2026-11-04T09:00:00+01:00",
          "eventTimeZoneOffset": "+01:00",
          "sourceList": [
            {
              "source": "urn:custodian:org:retail-c",
              "type": "owning_party"
            }
          ],
          "type": "ObjectEvent"
        }
      ]
    },
    "schemaVersion": "2.0",
    "type": "EPCISDocument"
  },
  "manifest_file": "outbound/SO-9.epcis.json"
} satisfies Shipped;

export const flag = {
  "id": "flag-0123456789abcdef01234567",
  "kind": "out_of_sequence",
  "epc": "https://id.gs1.org/01/04012345000016/21/R1",
  "reason": "2 units were received by retail-c GmbH under ASN-7 with no shipment on record: out of sequence",
  "raised_at": "2026-11-02T09:00:01+00:00",
  "event": "ni:///sha-256;a4765aef31d97b96f0d4e77522bc50bd058a74e5ac62e9bf9e455d83710d95a4",
  "status": "new",
  "history": [],
  "units": 2,
  "open_units": 1
} satisfies Flag;

export const flagUnit = {
  "flag": "flag-0123456789abcdef01234567",
  "epc": "https://id.gs1.org/01/04012345000016/21/R1",
  "event": "ni:///sha-256;a4765aef31d97b96f0d4e77522bc50bd058a74e5ac62e9bf9e455d83710d95a4",
  "resolved": "shipped by dist-a under ASN-7"
} satisfies FlagUnit;

export const lifecycle = [
  {
    "status": "new",
    "moves": [
      "seen",
      "under_investigation",
      "escalated",
      "closed"
    ],
    "needs_note": false
  },
  {
    "status": "seen",
    "moves": [
      "under_investigation",
      "escalated",
      "closed"
    ],
    "needs_note": false
  },
  {
    "status": "under_investigation",
    "moves": [
      "escalated",
      "closed"
    ],
    "needs_note": false
  },
  {
    "status": "escalated",
    "moves": [
      "closed"
    ],
    "needs_note": true
  },
  {
    "status": "closed",
    "moves": [],
    "needs_note": true
  }
] satisfies LifecycleStep[];

export const status = {
  "enrolled": false,
  "device": null,
  "org": "retail-c",
  "site": "store-1",
  "hub": null,
  "last_sync": null,
  "waiting": 12,
  "events": 13,
  "link": {
    "state": "offline",
    "detail": "hub unreachable, working offline: connection refused"
  }
} satisfies Status;

export const notFound = {
  "kind": "not_found",
  "message": "manifest ASN-404 not found"
} satisfies ApiError;
