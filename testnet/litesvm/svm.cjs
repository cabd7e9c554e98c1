// A LiteSVM (the Solana runtime, npm `litesvm`) driven over stdin / stdout, one JSON object per
// line each way, for the Rust chain tests (testnet/src/chains.rs). Signature verification and
// blockhash checks are on (LiteSVM's defaults). Requests:
//   {"op":"blockhash"}                          -> {"blockhash":"<base58>"}
//   {"op":"airdrop","address":A,"lamports":"N"} -> {"ok":true}
//   {"op":"balance","address":A}                -> {"lamports":"N"}
//   {"op":"send","tx":"<base64 wire tx>"}      -> {"ok":true,"logs":[...]} | {"ok":false,"err":"…","logs":[...]}
//   {"op":"expire_blockhash"}                   -> {"ok":true}
// Started with NODE_PATH pointing at testnet/.tools/node_modules (testnet/ensure-chains.sh).
"use strict";
const { LiteSVM, FailedTransactionMetadata } = require("litesvm");
const { getTransactionDecoder, address, lamports } = require("@solana/kit");
const readline = require("node:readline");

const svm = new LiteSVM();
const rl = readline.createInterface({ input: process.stdin });

function handle(m) {
  switch (m.op) {
    case "blockhash":
      return { blockhash: svm.latestBlockhash() };
    case "expire_blockhash":
      svm.expireBlockhash();
      return { ok: true };
    case "airdrop": {
      const r = svm.airdrop(address(m.address), lamports(BigInt(m.lamports)));
      if (r instanceof FailedTransactionMetadata) return { ok: false, err: r.toString() };
      return { ok: true };
    }
    case "balance": {
      const b = svm.getBalance(address(m.address));
      return { lamports: String(b === null ? 0n : b) };
    }
    case "send": {
      const tx = getTransactionDecoder().decode(Buffer.from(m.tx, "base64"));
      const r = svm.sendTransaction(tx);
      if (r instanceof FailedTransactionMetadata) {
        return { ok: false, err: r.toString(), logs: r.meta().logs() };
      }
      return { ok: true, logs: r.logs() };
    }
    default:
      return { error: `unknown op ${m.op}` };
  }
}

rl.on("line", (line) => {
  let out;
  try {
    out = handle(JSON.parse(line));
  } catch (e) {
    out = { error: String(e && e.message ? e.message : e) };
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});
