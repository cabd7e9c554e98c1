// LiteSVM (the Solana runtime, npm `litesvm`) behind the part of Solana's JSON-RPC API the
// node's Solana adapter uses, for the chain tests: no Solana validator can be installed here, so
// this serves the published API contract over the real runtime (signature verification,
// blockhash and durable-nonce checks, System Program and SPL Token execution are LiteSVM's).
//
//   node rpc.cjs <port>      listens on 127.0.0.1:<port>; prints "ready <port>" when it does
//
// Standard methods: getGenesisHash, getSlot, getLatestBlockhash, isBlockhashValid, getBalance,
// getAccountInfo (base64), sendTransaction (base64), getSignatureStatuses.
// getTokenAccountBalance.
// Test-only methods (the local chain's faucet and clock): litesvm_airdrop [address, lamports],
// litesvm_createNonceAccount [authority] -> address, litesvm_createMint [decimals] -> address,
// litesvm_setTokenAccount [address, mint, owner, amount] (an initialised SPL token account),
// litesvm_expireBlockhash, litesvm_advanceSlots [n].
// Each accepted transaction is in the slot it was sent at; the slot then advances by one, so a
// transaction has 1 confirmation once the next one lands or litesvm_advanceSlots is called.
"use strict";
const http = require("node:http");
const crypto = require("node:crypto");
const { LiteSVM, FailedTransactionMetadata } = require("litesvm");
const {
  getTransactionDecoder,
  getBase58Decoder,
  getBase58Encoder,
  address,
  lamports,
} = require("@solana/kit");

const svm = new LiteSVM();
const b58 = { enc: getBase58Encoder(), dec: getBase58Decoder() };
const GENESIS = b58.dec.decode(crypto.createHash("sha256").update("litesvm-local").digest());
const SYSTEM = "11111111111111111111111111111111";
const TOKEN = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
let slot = 1n;
svm.warpToSlot(slot);
let valid = new Set([svm.latestBlockhash()]);
const statuses = new Map(); // signature -> { slot, err }

class RpcError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function ctx(value) {
  return { context: { slot: Number(slot) }, value };
}

function advance(n) {
  slot += BigInt(n);
  svm.warpToSlot(slot);
}

function nonceData(authority, nonce) {
  // Versions::Current (1), State::Initialized (1), authority, durable nonce, lamports/signature.
  const d = Buffer.alloc(80);
  d.writeUInt32LE(1, 0);
  d.writeUInt32LE(1, 4);
  Buffer.from(b58.enc.encode(authority)).copy(d, 8);
  nonce.copy(d, 40);
  d.writeBigUInt64LE(5000n, 72);
  return d;
}

const methods = {
  getGenesisHash: () => GENESIS,
  getSlot: () => Number(slot),
  getLatestBlockhash: () =>
    ctx({ blockhash: svm.latestBlockhash(), lastValidBlockHeight: Number(slot) + 150 }),
  isBlockhashValid: ([hash]) => ctx(valid.has(hash)),
  getBalance: ([a]) => {
    const b = svm.getBalance(address(a));
    return ctx(Number(b === null ? 0n : b));
  },
  getAccountInfo: ([a]) => {
    const acc = svm.getAccount(address(a));
    if (!acc.exists) return ctx(null);
    return ctx({
      data: [Buffer.from(acc.data).toString("base64"), "base64"],
      owner: acc.programAddress,
      lamports: Number(acc.lamports),
      executable: acc.executable,
      rentEpoch: 0,
      space: acc.data.length,
    });
  },
  sendTransaction: ([tx]) => {
    const bytes = Buffer.from(tx, "base64");
    const decoded = getTransactionDecoder().decode(bytes);
    const sig = b58.dec.decode(bytes.subarray(1, 65));
    if (statuses.has(sig)) throw new RpcError(-32002, "Transaction simulation failed: AlreadyProcessed");
    const r = svm.sendTransaction(decoded);
    if (r instanceof FailedTransactionMetadata) {
      throw new RpcError(-32002, `Transaction simulation failed: ${r.toString()}`);
    }
    statuses.set(sig, { slot, err: null });
    advance(1);
    return sig;
  },
  getSignatureStatuses: ([sigs]) =>
    ctx(
      sigs.map((s) => {
        const st = statuses.get(s);
        if (!st) return null;
        const confirmations = Number(slot - st.slot);
        const finalized = confirmations >= 32;
        return {
          slot: Number(st.slot),
          confirmations: finalized ? null : confirmations,
          err: st.err,
          status: st.err ? { Err: st.err } : { Ok: null },
          confirmationStatus: finalized ? "finalized" : confirmations > 0 ? "confirmed" : "processed",
        };
      }),
    ),
  litesvm_airdrop: ([a, n]) => {
    const r = svm.airdrop(address(a), lamports(BigInt(n)));
    if (r instanceof FailedTransactionMetadata) throw new RpcError(-32000, r.toString());
    return true;
  },
  litesvm_createNonceAccount: ([authority]) => {
    const a = b58.dec.decode(crypto.randomBytes(32));
    // What InitializeNonceAccount stores: SHA-256("DURABLE_NONCE" || blockhash).
    const nonce = crypto
      .createHash("sha256")
      .update("DURABLE_NONCE")
      .update(Buffer.from(b58.enc.encode(svm.latestBlockhash())))
      .digest();
    svm.setAccount({
      address: address(a),
      programAddress: address(SYSTEM),
      lamports: lamports(svm.minimumBalanceForRentExemption(80n)),
      executable: false,
      data: nonceData(authority, nonce),
      space: 80n,
    });
    return a;
  },
  getTokenAccountBalance: ([a]) => {
    const acc = svm.getAccount(address(a));
    if (!acc.exists || acc.programAddress !== TOKEN || acc.data.length !== 165) {
      throw new RpcError(-32602, `Invalid param: could not find account`);
    }
    const data = Buffer.from(acc.data);
    const amount = data.readBigUInt64LE(64);
    const mint = svm.getAccount(address(b58.dec.decode(data.subarray(0, 32))));
    const decimals = mint.exists ? Buffer.from(mint.data)[44] : 0;
    return ctx({ amount: String(amount), decimals });
  },
  litesvm_createMint: ([decimals]) => {
    const a = b58.dec.decode(crypto.randomBytes(32));
    // Mint: mint authority (COption), supply, decimals, initialised, freeze authority (COption).
    const d = Buffer.alloc(82);
    d.writeUInt32LE(1, 0);
    crypto.randomBytes(32).copy(d, 4);
    d.writeBigUInt64LE(0n, 36);
    d[44] = decimals;
    d[45] = 1;
    svm.setAccount({
      address: address(a),
      programAddress: address(TOKEN),
      lamports: lamports(svm.minimumBalanceForRentExemption(82n)),
      executable: false,
      data: d,
      space: 82n,
    });
    return a;
  },
  litesvm_setTokenAccount: ([a, mint, owner, amount]) => {
    // Account: mint, owner, amount, delegate (COption), state (1 = initialised), is_native
    // (COption<u64>), delegated amount, close authority (COption).
    const d = Buffer.alloc(165);
    Buffer.from(b58.enc.encode(mint)).copy(d, 0);
    Buffer.from(b58.enc.encode(owner)).copy(d, 32);
    d.writeBigUInt64LE(BigInt(amount), 64);
    d[108] = 1;
    svm.setAccount({
      address: address(a),
      programAddress: address(TOKEN),
      lamports: lamports(svm.minimumBalanceForRentExemption(165n)),
      executable: false,
      data: d,
      space: 165n,
    });
    return true;
  },
  litesvm_expireBlockhash: () => {
    svm.expireBlockhash();
    valid = new Set([svm.latestBlockhash()]);
    return true;
  },
  litesvm_advanceSlots: ([n]) => {
    advance(n);
    return Number(slot);
  },
};

const port = Number(process.argv[2]);
http
  .createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
      if (body.length > 1 << 20) req.destroy();
    });
    req.on("end", () => {
      let id = null;
      let out;
      try {
        const m = JSON.parse(body);
        id = m.id ?? null;
        const f = methods[m.method];
        if (!f) throw new RpcError(-32601, `Method not found: ${m.method}`);
        out = { jsonrpc: "2.0", id, result: f(m.params || []) };
      } catch (e) {
        out = { jsonrpc: "2.0", id, error: { code: e.code ?? -32603, message: String(e.message ?? e) } };
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(out));
    });
  })
  .listen(port, "127.0.0.1", () => console.log(`ready ${port}`));
