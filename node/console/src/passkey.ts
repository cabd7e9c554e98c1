// WebAuthn ceremonies: create a passkey through an invitation, sign a challenge.

import { b64url, fromB64url, fromHex, hex, utf8, concat } from "./codec";

export interface Assertion {
  credential_id: string;
  authenticator_data: string;
  client_data_json: string;
  signature: string;
}

export async function assert(challenge: Uint8Array, credentialIds: string[] = []): Promise<Assertion> {
  const cred = (await navigator.credentials.get({
    publicKey: {
      challenge: challenge as BufferSource,
      rpId: location.hostname,
      userVerification: "required",
      timeout: 60000,
      allowCredentials: credentialIds.map((id) => ({ type: "public-key" as const, id: fromB64url(id) as BufferSource })),
    },
  })) as PublicKeyCredential | null;
  if (!cred) throw new Error("no passkey was used");
  const r = cred.response as AuthenticatorAssertionResponse;
  return {
    credential_id: b64url(cred.rawId),
    authenticator_data: b64url(r.authenticatorData),
    client_data_json: b64url(r.clientDataJSON),
    signature: b64url(r.signature),
  };
}

export async function create(
  challenge: Uint8Array,
  org: string,
  user: string,
): Promise<{ attestation_object: string; client_data_json: string; credential_id: string }> {
  const cred = (await navigator.credentials.create({
    publicKey: {
      rp: { id: location.hostname, name: `mpc-node (${org})` },
      user: { id: utf8(`${org}/${user}`) as BufferSource, name: user, displayName: `${user} (${org})` },
      challenge: challenge as BufferSource,
      pubKeyCredParams: [
        { type: "public-key", alg: -7 },
        { type: "public-key", alg: -8 },
      ],
      authenticatorSelection: { residentKey: "required", userVerification: "required" },
      attestation: "none",
      timeout: 60000,
    },
  })) as PublicKeyCredential | null;
  if (!cred) throw new Error("no passkey was created");
  const r = cred.response as AuthenticatorAttestationResponse;
  return {
    attestation_object: b64url(r.attestationObject),
    client_data_json: b64url(r.clientDataJSON),
    credential_id: b64url(cred.rawId),
  };
}

/** The invitation key from the invitation link's secret (32-byte Ed25519 seed, hex). It stays
 * in this page: only its signature over the registration leaves. */
export async function invitationKey(seedHex: string): Promise<{ key: CryptoKey; publicKey: Uint8Array }> {
  const seed = fromHex(seedHex);
  if (seed.length !== 32) throw new Error("the invitation secret must be 32 bytes of hex");
  const pkcs8 = concat(fromHex("302e020100300506032b657004220420"), seed);
  const key = await crypto.subtle.importKey("pkcs8", pkcs8 as BufferSource, { name: "Ed25519" }, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  if (!jwk.x) throw new Error("this browser cannot use Ed25519 keys");
  return { key, publicKey: fromB64url(jwk.x) };
}

export async function signEd25519(key: CryptoKey, msg: Uint8Array): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, msg as BufferSource)));
}
