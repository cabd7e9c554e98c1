// The mpc-node web console: sign in with a passkey; see vaults, wallets, balances, requests
// and the audit log; approve or reject a request with a passkey. What an approver sees is
// parsed here from the payload bytes, and the challenge the passkey signs is computed here
// from those bytes (decision 0022): a node that lies about a request cannot get a different
// transaction approved.

import { intentDigest, decisionChallenge, registrationChallenge, signInChallenge, COMMAND_SIGNATURE } from "./challenge";
import { fromB64url, fromHex, hex, concat, utf8 } from "./codec";
import { age, clear, el, table } from "./dom";
import { assert, create, invitationKey, signEd25519 } from "./passkey";
import { parsePayload, Parsed } from "./parse";
import { call, subscribe } from "./rpc";
import { formatUnits, NATIVE } from "./units";

interface Session {
  token: string;
  org: string;
  user: string;
  roles: string[];
  cluster: string;
  node: number;
}

let session: Session | null = null;
let socket: WebSocket | null = null;
let selected: string | null = null;
const labels = new Map<string, string>();

const main = () => document.getElementById("main") as HTMLElement;
const status = (text: string, kind: "info" | "error" | "ok" = "info") => {
  const s = document.getElementById("status") as HTMLElement;
  s.textContent = text;
  s.className = `status ${kind}`;
};

function auth(): Record<string, unknown> {
  return { auth: { session: session?.token } };
}

async function read(method: string, params: Record<string, unknown> = {}): Promise<any> {
  return call(method, { ...params, ...auth() });
}

/** Every page of a list method (following `next_cursor`), its `field` arrays joined. */
async function readAll(method: string, params: Record<string, unknown>, field: string): Promise<any[]> {
  const all: any[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 200; pages++) {
    const page: any = await read(method, cursor === null ? params : { ...params, cursor });
    all.push(...(page[field] as any[]));
    cursor = page.next_cursor ?? null;
    if (cursor === null) return all;
  }
  throw new Error(`${method}: more than 200 pages`);
}

// ----- sign-in -----

function signInView(): void {
  clear(main());
  const org = el("input", { id: "org", name: "org", autocomplete: "organization", required: "true" });
  const button = el("button", { id: "sign-in", type: "button" }, "Sign in with a passkey");
  button.addEventListener("click", () => void signIn(org.value.trim()));
  main().append(
    el(
      "section",
      { "aria-labelledby": "signin-h" },
      el("h2", { id: "signin-h" }, "Sign in"),
      el("label", { for: "org" }, "Organisation"),
      org,
      button,
    ),
  );
}

async function signIn(org: string): Promise<void> {
  try {
    status("Waiting for your passkey…");
    const ch = await call("console_challenge");
    const nonce = fromB64url(ch.nonce);
    const challenge = await signInChallenge(ch.cluster_id, String(ch.node_id), nonce);
    const a = await assert(challenge);
    const s = await call("console_sign_in", { org_id: org, nonce: ch.nonce, ...a });
    session = { token: s.session, org: s.org_id, user: s.user_id, roles: s.roles, cluster: ch.cluster_id, node: ch.node_id };
    status(`Signed in as ${s.user_id} (${s.roles.join(", ")}) at node ${ch.node_id}`, "ok");
    await dashboard();
    watch();
  } catch (e) {
    status(`Sign-in failed: ${(e as Error).message}`, "error");
  }
}

function signOut(): void {
  if (session) void call("console_sign_out", { session: session.token }).catch(() => undefined);
  session = null;
  socket?.close();
  socket = null;
  document.getElementById("who")!.textContent = "";
  signInView();
  status("Signed out.");
}

// ----- registration through an invitation -----

async function registerView(params: URLSearchParams): Promise<void> {
  clear(main());
  const org = params.get("org") ?? "";
  const user = params.get("user") ?? "";
  const secret = params.get("key") ?? "";
  const button = el("button", { id: "register", type: "button" }, "Create my passkey");
  main().append(
    el(
      "section",
      { "aria-labelledby": "reg-h" },
      el("h2", { id: "reg-h" }, "Register a passkey"),
      el("p", {}, `Organisation ${org}, member ${user}. Your passkey will approve requests for this member.`),
      button,
    ),
  );
  button.addEventListener("click", async () => {
    try {
      const ch = await call("console_challenge");
      const inv = await invitationKey(secret);
      const challenge = await registrationChallenge(ch.cluster_id, org, user, inv.publicKey);
      status("Follow your browser's prompt to create the passkey…");
      const c = await create(challenge, org, user);
      const body = JSON.stringify({
        cluster: ch.cluster_id,
        idempotency_key: `passkey-${c.credential_id.slice(0, 32)}`,
        action: {
          type: "passkey_register",
          org_id: org,
          user_id: user,
          attestation_object: c.attestation_object,
          client_data_json: c.client_data_json,
        },
      });
      const signature = await signEd25519(inv.key, concat(COMMAND_SIGNATURE, utf8(body)));
      await call("passkey_register", { command: { body, signer: hex(inv.publicKey), signature } });
      history.replaceState(null, "", "/");
      status(`Passkey registered for ${user}. You can sign in now.`, "ok");
      signInView();
    } catch (e) {
      status(`Registration failed: ${(e as Error).message}`, "error");
    }
  });
}

// ----- dashboard -----

interface Checked {
  parsed?: Parsed;
  digest?: string;
  problem?: string;
}

/** Parses the payload here and recomputes the digest; any disagreement with what the node
 * says is a problem that blocks approval. */
async function check(r: any): Promise<Checked> {
  try {
    const payload = fromHex(r.payload);
    const parsed = parsePayload(r.intent.chain, r.intent.network, payload, r.extras, r.intent.from);
    const digest = await intentDigest(session!.cluster, r.request_id, r.wallet_id, payload, r.extras, r.intent);
    if (digest !== r.intent_digest) {
      return { parsed, problem: "the node's description of this request does not hash to its digest" };
    }
    const same =
      parsed.transfers.length === r.intent.transfers.length &&
      parsed.transfers.every((t, i) => t.to === r.intent.transfers[i].to && t.amount === BigInt(r.intent.transfers[i].amount)) &&
      parsed.amount === BigInt(r.intent.amount) &&
      parsed.fee === BigInt(r.intent.fee) &&
      (parsed.token ?? null) === (r.intent.token?.contract ?? null);
    if (!same) return { parsed, problem: "the payload bytes do not say what the node's description says" };
    return { parsed, digest };
  } catch (e) {
    return { problem: `the payload could not be parsed here: ${(e as Error).message}` };
  }
}

function assetOf(r: any): { symbol: string; decimals: number } {
  const native = NATIVE[r.intent.chain] ?? { symbol: "?", decimals: 0 };
  if (r.intent.token) return { symbol: r.intent.asset || "token", decimals: r.intent.token.decimals };
  return native;
}

function money(v: bigint, a: { symbol: string; decimals: number }): string {
  return `${formatUnits(v, a.decimals)} ${a.symbol}`;
}

function destination(to: string): string {
  const l = labels.get(to);
  return l ? `${to} (address book: ${l})` : to;
}

/** The dashboard's sections, each replaced in one step when its content changes, so a refresh
 * never leaves a half-built page or wipes what the approver is typing. */
const SLOTS = ["pending", "detail-slot", "wallets", "history", "audit"];
let detailKey = "";
let refreshing: Promise<void> | null = null;

function slot(id: string): HTMLElement {
  if (!document.getElementById(id)) {
    clear(main());
    detailKey = "";
    for (const s of SLOTS) main().append(el("div", { id: s }));
  }
  return document.getElementById(id) as HTMLElement;
}

/** Re-renders the dashboard; concurrent calls (subscription bursts, clicks) run one at a time. */
async function dashboard(): Promise<void> {
  while (refreshing) await refreshing;
  refreshing = render().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function render(): Promise<void> {
  if (!session) return;
  document.getElementById("who")!.textContent = `${session.user} · ${session.org} · node ${session.node}`;
  const book = await readAll("addressbook_list", { org_id: session.org }, "entries").catch(() => [] as any[]);
  labels.clear();
  for (const e of book) labels.set(e.address, e.label);
  const reqs = await readAll("request_list", { org_id: session.org }, "requests");
  reqs.sort((a, b) => b.created_at_ms - a.created_at_ms);
  const pending = reqs.filter((r) => r.status.state === "pending");
  const pendingRows = await Promise.all(
    pending.map(async (r) => {
      const c = await check(r);
      const a = assetOf(r);
      const open = el("button", { type: "button", "data-request": r.request_id }, `Review ${r.request_id}`);
      open.addEventListener("click", () => {
        selected = r.request_id;
        void dashboard();
      });
      return [
        open,
        c.parsed ? money(c.parsed.amount, a) : "—",
        c.parsed ? c.parsed.transfers.map((t) => destination(t.to)).join(", ") : "—",
        `${r.intent.chain} ${r.intent.network}`,
        age(r.created_at_ms),
        c.problem ? `⚠ ${c.problem}` : "checked here",
      ];
    }),
  );
  slot("pending").replaceChildren(
    el(
      "section",
      { "aria-labelledby": "pending-h" },
      el("h2", { id: "pending-h" }, `Waiting for approval (${pending.length})`),
      pending.length
        ? table(["Request", "Amount", "To", "Chain", "Age", "Console check"], pendingRows, "Requests waiting for approval")
        : el("p", {}, "Nothing to approve."),
    ),
  );
  // The review is rebuilt only when the request itself changed.
  const sel = reqs.find((r) => r.request_id === selected);
  const key = sel ? `${sel.request_id}|${sel.status.state}|${Object.keys(sel.approvals).join(",")}` : "";
  if (key !== detailKey) {
    detailKey = key;
    slot("detail-slot").replaceChildren(...(sel ? [await detail(sel)] : []));
  }
  slot("wallets").replaceChildren(await wallets());
  slot("history").replaceChildren(
    el(
      "section",
      { "aria-labelledby": "history-h" },
      el("h2", { id: "history-h" }, "Request history"),
      table(
        ["Request", "Status", "Amount", "Chain", "Created"],
        reqs.slice(0, 30).map((r) => [
          r.request_id,
          r.status.state + (r.chain?.state && r.chain.state !== r.status.state ? ` · on chain: ${r.chain.state}` : ""),
          money(BigInt(r.intent.amount), assetOf(r)),
          `${r.intent.chain} ${r.intent.network}`,
          age(r.created_at_ms),
        ]),
        "Request history",
      ),
    ),
  );
  slot("audit").replaceChildren(await audit());
}

async function detail(r: any): Promise<HTMLElement> {
  const c = await check(r);
  const a = assetOf(r);
  const native = NATIVE[r.intent.chain] ?? a;
  const rows: [string, string][] = [
    ["Request", r.request_id],
    ["Chain", `${r.intent.chain} (${r.intent.network})`],
    ["From", r.intent.from],
  ];
  if (c.parsed) {
    for (const t of c.parsed.transfers) rows.push(["Send", `${money(t.amount, a)} to ${destination(t.to)}`]);
    rows.push(["Fee (at most)", money(c.parsed.fee, native)]);
    rows.push(...c.parsed.lines);
  }
  rows.push(["Policy version", String(r.policy.version)], ["Approvals so far", Object.keys(r.approvals).join(", ") || "none"]);
  const section = el(
    "section",
    { "aria-labelledby": "detail-h", id: "detail" },
    el("h2", { id: "detail-h" }, `Review ${r.request_id}`),
    el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
  );
  if (c.problem) {
    section.append(el("p", { class: "status error", role: "alert" }, `Do not approve: ${c.problem}.`));
    return section;
  }
  section.append(el("p", { class: "status ok" }, "Parsed by this console from the transaction bytes; the digest matches."));
  if (r.status.state === "pending" && session!.roles.includes("approver")) {
    const approve = el("button", { id: "approve", type: "button" }, "Approve with passkey");
    const reason = el("input", { id: "reason", name: "reason", placeholder: "reason for rejecting" });
    const reject = el("button", { id: "reject", type: "button", class: "secondary" }, "Reject with passkey");
    approve.addEventListener("click", () => void decide(r, c.digest!, "approve", ""));
    reject.addEventListener("click", () => void decide(r, c.digest!, "reject", reason.value.trim() || "rejected in the console"));
    section.append(el("div", { class: "actions" }, approve, el("label", { for: "reason" }, "Reason"), reason, reject));
  }
  return section;
}

async function decide(r: any, digest: string, decision: "approve" | "reject", reason: string): Promise<void> {
  try {
    status("Confirm with your passkey…");
    const challenge = await decisionChallenge(session!.cluster, session!.org, r.request_id, digest, r.policy.version, decision, reason);
    const a = await assert(challenge);
    const d: Record<string, unknown> = { org_id: session!.org, request_id: r.request_id, decision, ...a };
    if (decision === "reject") d.reason = reason;
    await call("request_passkey_decide", { decision: d });
    status(`${decision === "approve" ? "Approved" : "Rejected"} ${r.request_id}.`, "ok");
    await dashboard();
  } catch (e) {
    status(`The ${decision} was refused: ${(e as Error).message}`, "error");
  }
}

async function wallets(): Promise<HTMLElement> {
  const ws = ((await read("wallet_list").catch(() => ({ wallets: [] }))).wallets as any[]).filter((w) => w.org_id === session!.org);
  const rows = await Promise.all(
    ws.map(async (w) => {
      const b = await read("wallet_balance", { wallet_id: w.wallet_id }).catch(() => null);
      const bal = b ? `${formatUnits(BigInt(b.balance), b.decimals)} ${b.asset}` : "— (no chain provider)";
      return [w.wallet_id, w.vault_id, `${w.chain} ${w.network}`, el("code", {}, w.address), bal];
    }),
  );
  const vaults = ((await read("vault_list", { org_id: session!.org }).catch(() => ({ vaults: [] }))).vaults as any[]).map((v) => [
    v.vault_id,
    v.name,
    v.status.state,
    `${v.threshold} of ${v.committee.length} nodes (${v.committee.join(", ")})`,
  ]);
  return el(
    "section",
    { "aria-labelledby": "wallets-h" },
    el("h2", { id: "wallets-h" }, "Vaults and wallets"),
    table(["Vault", "Name", "Status", "Signers"], vaults, "Vaults"),
    table(["Wallet", "Vault", "Chain", "Address", "Balance"], rows, "Wallets"),
  );
}

async function audit(): Promise<HTMLElement> {
  const s = el("section", { "aria-labelledby": "audit-h" }, el("h2", { id: "audit-h" }, "Audit log"));
  try {
    const a = await read("audit_list", { org_id: session!.org, limit: 1000 });
    const entries = (a.entries as any[]).slice(-20).reverse();
    s.append(
      table(
        ["#", "Action", "Outcome", "When"],
        entries.map((e) => [String(e.seq), e.action, e.outcome, age(e.timestamp_ms)]),
        "Audit log",
      ),
    );
  } catch (e) {
    s.append(el("p", {}, `Not shown: ${(e as Error).message}`));
  }
  return s;
}

function watch(): void {
  if (!session) return;
  socket?.close();
  let timer: number | undefined;
  socket = subscribe(
    { org_id: session.org, ...auth() },
    () => {
      // Coalesce bursts of changes into one refresh.
      clearTimeout(timer);
      timer = window.setTimeout(() => void dashboard().catch(() => undefined), 300);
    },
    () => {
      if (session) status("Live updates stopped (connection closed); reload to resume.", "error");
    },
  );
}

// ----- start -----

function start(): void {
  document.getElementById("sign-out")!.addEventListener("click", signOut);
  const hash = location.hash;
  if (hash.startsWith("#/invite?")) {
    void registerView(new URLSearchParams(hash.slice("#/invite?".length)));
  } else {
    signInView();
  }
}

start();
