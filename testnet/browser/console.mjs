// Drives Debian's chromium (playwright-core) through the nodes' web consoles, with the Chrome
// DevTools virtual authenticator (user verification on) standing in for the approvers' passkey
// devices. Called by testnet/tests/console.rs with a JSON config; prints one JSON line of
// results. Every refusal below is the nodes' answer over JSON-RPC, not the page's.
//
//   node console.mjs CONFIG.json
//
// The config: chromium, consoles[3] (console URLs; the third is not in the organisation's
// allowed origins), org, cluster, admin_seed (hex, the test network's throwaway admin key),
// invites {alice, bob} (invitation links), request_a, request_b (ids), challenge_a, challenge_b
// (base64url approval challenges, computed by the Rust test), screenshots (a directory).

import { chromium } from "playwright-core";
import { createPrivateKey, createPublicKey, sign } from "node:crypto";
import { readFileSync, mkdirSync } from "node:fs";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const STEP_MS = 30_000;
mkdirSync(cfg.screenshots, { recursive: true });
const results = {};
const say = (s) => process.stderr.write(`--> browser: ${s}\n`);

async function rpc(url, method, params) {
  const res = await fetch(url + "/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(STEP_MS),
  });
  return res.json();
}

/** A page with its own virtual authenticator (CTAP2, internal, resident keys, UV on). */
async function approverPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on("pageerror", (e) => say(`page error: ${e.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { page, cdp, authenticatorId };
}

async function statusIs(page, text) {
  await page.locator("#status", { hasText: text }).waitFor();
}

async function registerAndSignIn(a, link, name, shot) {
  await a.page.goto(link);
  await a.page.click("#register");
  await statusIs(a.page, "Passkey registered");
  if (shot) await a.page.screenshot({ path: `${cfg.screenshots}/console-sign-in.png` });
  await a.page.fill("#org", cfg.org);
  await a.page.click("#sign-in");
  await statusIs(a.page, `Signed in as ${name}`);
}

async function review(a, requestId) {
  await a.page.click(`button[data-request="${requestId}"]`);
  try {
    await a.page.locator("#approve").waitFor();
  } catch (e) {
    const text = await a.page.locator("#main").innerText().catch(() => "?");
    throw new Error(`no approve button for ${requestId}; the page says:\n${text}`);
  }
}

/** An assertion over `challenge` (base64url) made in `page`, with `uv` ("required" or
 * "discouraged"). */
async function assertion(page, challenge, uv = "required") {
  return page.evaluate(
    async ({ challenge, uv }) => {
      const fromB64 = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
      const b64 = (b) =>
        btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      const c = await navigator.credentials.get({
        publicKey: { challenge: fromB64(challenge), rpId: location.hostname, userVerification: uv },
      });
      return {
        credential_id: b64(c.rawId),
        authenticator_data: b64(c.response.authenticatorData),
        client_data_json: b64(c.response.clientDataJSON),
        signature: b64(c.response.signature),
      };
    },
    { challenge, uv },
  );
}

async function refused(name, url, requestId, a) {
  const r = await rpc(url, "request_passkey_decide", {
    decision: { org_id: cfg.org, request_id: requestId, decision: "approve", ...a },
  });
  if (!r.error) throw new Error(`${name}: the nodes accepted it: ${JSON.stringify(r.result)}`);
  say(`${name}: refused (${r.error.code}): ${r.error.message}`);
  results[name] = r.error.message;
}

/** The admin's signed `passkey_revoke` (Ed25519 over the command-signature domain). */
function revokeCommand(user, credentialId) {
  const seed = Buffer.from(cfg.admin_seed, "hex");
  const key = createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]),
    format: "der",
    type: "pkcs8",
  });
  const signer = createPublicKey(key).export({ format: "der", type: "spki" }).subarray(-32).toString("hex");
  const body = JSON.stringify({
    cluster: cfg.cluster,
    idempotency_key: `revoke-${user}-${Date.now()}`,
    action: { type: "passkey_revoke", org_id: cfg.org, user_id: user, credential_id: credentialId },
  });
  const sig = sign(null, Buffer.concat([Buffer.from("mpc-node/v1/command-signature\n"), Buffer.from(body)]), key);
  return { body, signer, signature: sig.toString("hex") };
}

const browser = await chromium.launch({
  executablePath: cfg.chromium,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  timeout: STEP_MS,
});
try {
  const [c1, c2, c3] = cfg.consoles;
  // Alice registers through her invitation on node 1's console, signs in, reviews, approves.
  const alice = await approverPage(browser);
  await registerAndSignIn(alice, cfg.invites.alice, "alice", true);
  say("alice registered her passkey and signed in");
  await alice.page.locator(`button[data-request="${cfg.request_a}"]`).waitFor();
  await alice.page.screenshot({ path: `${cfg.screenshots}/console-dashboard.png`, fullPage: true });
  await review(alice, cfg.request_a);
  await alice.page.locator("#detail").screenshot({ path: `${cfg.screenshots}/console-review.png` });
  await alice.page.click("#approve");
  await statusIs(alice.page, `Approved ${cfg.request_a}`);
  say("alice approved in the console");

  // Bob, on node 2's console, with his own authenticator: the second approval signs.
  const bob = await approverPage(browser);
  await registerAndSignIn(bob, cfg.invites.bob, "bob", false);
  await review(bob, cfg.request_a);
  await bob.page.click("#approve");
  await statusIs(bob.page, `Approved ${cfg.request_a}`);
  say("bob approved in the console");
  // The history shows the request signed, pushed over the WebSocket subscription.
  await bob.page
    .locator("section[aria-labelledby=history-h] tr", { hasText: cfg.request_a })
    .filter({ hasText: "signed" })
    .waitFor({ timeout: 90_000 });
  await bob.page.screenshot({ path: `${cfg.screenshots}/console-signed.png`, fullPage: true });
  results.signed_in_console = true;

  // Refusals, each checked in the nodes' JSON-RPC answer.
  // 1. An assertion over request A's challenge presented as an approval of request B.
  await refused("another_requests_challenge", c1, cfg.request_b, await assertion(alice.page, cfg.challenge_a));
  // 2. User verification off.
  await alice.cdp.send("WebAuthn.setUserVerified", { authenticatorId: alice.authenticatorId, isUserVerified: false });
  await refused("user_verification_false", c1, cfg.request_b, await assertion(alice.page, cfg.challenge_b, "discouraged"));
  await alice.cdp.send("WebAuthn.setUserVerified", { authenticatorId: alice.authenticatorId, isUserVerified: true });
  // 3. A page on an origin the organisation did not allow (node 3's console).
  await alice.page.goto(c3);
  await refused("wrong_origin", c3, cfg.request_b, await assertion(alice.page, cfg.challenge_b));
  // 4. A revoked passkey.
  const { credentials } = await bob.cdp.send("WebAuthn.getCredentials", { authenticatorId: bob.authenticatorId });
  const bobCred = Buffer.from(credentials[0].credentialId, "base64").toString("base64url");
  const rev = await rpc(c1, "passkey_revoke", { command: revokeCommand("bob", bobCred) });
  if (rev.error) throw new Error(`revoking bob's passkey: ${rev.error.message}`);
  await refused("revoked_credential", c2, cfg.request_b, await assertion(bob.page, cfg.challenge_b));
  // Alice, back on node 1's console, rejects B with her passkey and a reason, in the page.
  await alice.page.goto(c1);
  await alice.page.fill("#org", cfg.org);
  await alice.page.click("#sign-in");
  await statusIs(alice.page, "Signed in as alice");
  await review(alice, cfg.request_b);
  await alice.page.fill("#reason", "not a payment we expect");
  await alice.page.click("#reject");
  await statusIs(alice.page, `Rejected ${cfg.request_b}`);
  results.rejected_in_console = true;
  // Bob's revoked passkey no longer signs him in.
  const ch = await rpc(c2, "console_challenge", {});
  await bob.page.goto(c2);
  await bob.page.fill("#org", cfg.org);
  await bob.page.click("#sign-in");
  await statusIs(bob.page, "Sign-in failed");
  results.revoked_sign_in = (await bob.page.locator("#status").innerText()).trim();
  results.nonce_issued = typeof ch.result?.nonce === "string";
} finally {
  await browser.close();
}
console.log(JSON.stringify(results));
