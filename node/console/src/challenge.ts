// The challenges passkeys sign and the intent digest, computed here from the bytes the
// console shows — the same definitions as `mpc_custody::passkey` and `intent_digest`
// (docs/protocols.md, "Passkeys").

import { concat, field, sha256, u64be, utf8 } from "./codec";

const PASSKEY_DECISION = utf8("mpc-node/v1/passkey-decision\n");
const PASSKEY_REGISTRATION = utf8("mpc-node/v1/passkey-registration\n");
const PASSKEY_SIGN_IN = utf8("mpc-node/v1/passkey-sign-in\n");
const INTENT_DIGEST = utf8("mpc-node/v1/intent-digest\n");
export const COMMAND_SIGNATURE = utf8("mpc-node/v1/command-signature\n");

export async function decisionChallenge(
  cluster: string,
  org: string,
  requestId: string,
  intentDigest: string,
  policyVersion: number,
  decision: "approve" | "reject",
  reason: string,
): Promise<Uint8Array> {
  return sha256(
    concat(
      PASSKEY_DECISION,
      field(utf8(cluster)),
      field(utf8(org)),
      field(utf8(requestId)),
      field(utf8(intentDigest)),
      field(u64be(BigInt(policyVersion))),
      field(utf8(decision)),
      field(utf8(reason)),
    ),
  );
}

export async function registrationChallenge(
  cluster: string,
  org: string,
  user: string,
  inviteKey: Uint8Array,
): Promise<Uint8Array> {
  return sha256(
    concat(PASSKEY_REGISTRATION, field(utf8(cluster)), field(utf8(org)), field(utf8(user)), field(inviteKey)),
  );
}

export async function signInChallenge(cluster: string, node: string, nonce: Uint8Array): Promise<Uint8Array> {
  return sha256(concat(PASSKEY_SIGN_IN, field(utf8(cluster)), field(utf8(node)), field(nonce)));
}

/** JSON with object keys sorted at every level and no whitespace (the Rust side's
 * `serde_json::Value` form). */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** The intent digest over the exact payload bytes the console parsed and shows. The intent and
 * extras are the node's JSON, re-serialised: if the node described them differently from what
 * every node derives, the digest differs and the console refuses to ask for a passkey. */
export async function intentDigest(
  cluster: string,
  requestId: string,
  walletId: string,
  payload: Uint8Array,
  extras: unknown,
  intent: unknown,
): Promise<string> {
  const d = await sha256(
    concat(
      INTENT_DIGEST,
      field(utf8(cluster)),
      field(utf8(requestId)),
      field(utf8(walletId)),
      field(payload),
      field(utf8(canonical(extras))),
      field(utf8(canonical(intent))),
    ),
  );
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}
