// The console's own parse of a request's payload bytes: who receives what, and the most the
// fee can be. Written independently of the node (which parses with Rust); an approver is shown
// this, and the console refuses to ask for a passkey if the node's description disagrees.

import { keccak_256 } from "@noble/hashes/sha3";
import { base58, bech32, bech32m } from "@scure/base";
import { hex } from "./codec";

export interface Parsed {
  transfers: { to: string; amount: bigint }[];
  amount: bigint;
  fee: bigint;
  /** ERC-20 contract or SPL mint, for token transfers. */
  token?: string;
  lines: [string, string][];
}

class Reader {
  constructor(
    private b: Uint8Array,
    public o = 0,
  ) {}
  take(n: number, what: string): Uint8Array {
    if (n < 0 || this.o + n > this.b.length) throw new Error(`truncated ${what}`);
    const s = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return s;
  }
  byte(what: string): number {
    return this.take(1, what)[0];
  }
  done(): boolean {
    return this.o === this.b.length;
  }
}

function le(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

function be(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

// ----- Ethereum -----

type Rlp = Uint8Array | Rlp[];

function rlp(r: Reader, depth = 0): Rlp {
  if (depth > 4) throw new Error("RLP nested too deep");
  const p = r.byte("RLP");
  if (p < 0x80) return Uint8Array.of(p);
  if (p < 0xb8) return r.take(p - 0x80, "RLP string");
  if (p < 0xc0) return r.take(Number(be(r.take(p - 0xb7, "RLP length"))), "RLP string");
  const len = p < 0xf8 ? p - 0xc0 : Number(be(r.take(p - 0xf7, "RLP length")));
  const end = r.o + len;
  const items: Rlp[] = [];
  while (r.o < end) items.push(rlp(r, depth + 1));
  if (r.o !== end) throw new Error("RLP list length");
  return items;
}

function bytes(x: Rlp | undefined, what: string): Uint8Array {
  if (!(x instanceof Uint8Array)) throw new Error(`${what} is not a string`);
  return x;
}

/** EIP-55 mixed-case checksum address. */
export function checksum(addr: Uint8Array): string {
  const lower = hex(addr);
  const h = hex(keccak_256(new TextEncoder().encode(lower)));
  let out = "0x";
  for (let i = 0; i < 40; i++) out += parseInt(h[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
  return out;
}

function parseEth(p: Uint8Array): Parsed {
  const eip1559 = p[0] === 0x02;
  const r = new Reader(p, eip1559 ? 1 : 0);
  const f = rlp(r);
  if (!r.done() || !Array.isArray(f)) throw new Error("not an RLP transaction");
  let chainId: bigint, nonce: bigint, gas: bigint, maxFee: bigint, to: Uint8Array, value: bigint, data: Uint8Array;
  const lines: [string, string][] = [];
  if (eip1559) {
    if (f.length !== 9) throw new Error("EIP-1559 transaction has 9 fields");
    chainId = be(bytes(f[0], "chain id"));
    nonce = be(bytes(f[1], "nonce"));
    lines.push(["max priority fee per gas", `${be(bytes(f[2], "priority fee"))} wei`]);
    maxFee = be(bytes(f[3], "max fee"));
    lines.push(["max fee per gas", `${maxFee} wei`]);
    gas = be(bytes(f[4], "gas"));
    to = bytes(f[5], "to");
    value = be(bytes(f[6], "value"));
    data = bytes(f[7], "data");
  } else {
    if (f.length !== 9) throw new Error("legacy EIP-155 transaction has 9 fields");
    nonce = be(bytes(f[0], "nonce"));
    maxFee = be(bytes(f[1], "gas price"));
    lines.push(["gas price", `${maxFee} wei`]);
    gas = be(bytes(f[2], "gas"));
    to = bytes(f[3], "to");
    value = be(bytes(f[4], "value"));
    data = bytes(f[5], "data");
    chainId = be(bytes(f[6], "chain id"));
  }
  if (to.length !== 20) throw new Error("contract creation is not supported");
  lines.push(["chain id", chainId.toString()], ["nonce", nonce.toString()], ["gas limit", gas.toString()]);
  const fee = gas * maxFee;
  const transferSel = "a9059cbb";
  if (data.length === 68 && hex(data.subarray(0, 4)) === transferSel) {
    if (value !== 0n) throw new Error("a token transfer must not also send ETH");
    const word = data.subarray(4, 36);
    if (word.subarray(0, 12).some((x) => x !== 0)) throw new Error("bad address word");
    const amount = be(data.subarray(36, 68));
    const contract = checksum(to);
    lines.push(["token contract", contract]);
    return { transfers: [{ to: checksum(word.subarray(12)), amount }], amount, fee, token: contract, lines };
  }
  if (data.length > 0) {
    lines.push(["contract call", `selector 0x${hex(data.subarray(0, 4))}, ${data.length} bytes of calldata`]);
  }
  return { transfers: [{ to: checksum(to), amount: value }], amount: value, fee, lines };
}

// ----- Solana -----

const SYSTEM = new Uint8Array(32);
const TOKEN = base58.decode("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
const ATA = base58.decode("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

function compactU16(r: Reader, what: string): number {
  let v = 0;
  for (let i = 0; i < 3; i++) {
    const b = r.byte(what);
    v |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) === 0) return v;
  }
  throw new Error(`bad compact-u16 ${what}`);
}

function parseSol(p: Uint8Array): Parsed {
  const r = new Reader(p);
  const [sigs] = [r.byte("header"), r.byte("header"), r.byte("header")];
  const n = compactU16(r, "account keys");
  const keys: Uint8Array[] = [];
  for (let i = 0; i < n; i++) keys.push(r.take(32, "account key"));
  const blockhash = r.take(32, "blockhash");
  const nIx = compactU16(r, "instructions");
  const ixs: { program: Uint8Array; accs: Uint8Array; data: Uint8Array }[] = [];
  for (let i = 0; i < nIx; i++) {
    const prog = keys[r.byte("program")];
    if (!prog) throw new Error("program index out of range");
    const accs = r.take(compactU16(r, "accounts"), "accounts");
    const data = r.take(compactU16(r, "data"), "data");
    ixs.push({ program: prog, accs, data });
  }
  if (!r.done()) throw new Error("trailing bytes");
  const key = (ix: { accs: Uint8Array }, i: number) => {
    const k = keys[ix.accs[i]];
    if (!k) throw new Error("account index out of range");
    return k;
  };
  const lines: [string, string][] = [["signatures", String(sigs)]];
  let rest = ixs;
  if (ixs[0] && same(ixs[0].program, SYSTEM) && le(ixs[0].data) === 4n && ixs[0].data.length === 4) {
    lines.push(["durable nonce account", base58.encode(key(ixs[0], 0))], ["durable nonce", base58.encode(blockhash)]);
    rest = ixs.slice(1);
  } else {
    lines.push(["recent blockhash", base58.encode(blockhash)]);
  }
  let fee = 5000n;
  const tokenIx = rest.find((ix) => same(ix.program, TOKEN));
  if (tokenIx) {
    if (tokenIx.data.length !== 10 || tokenIx.data[0] !== 12) throw new Error("not an SPL TransferChecked");
    const amount = le(tokenIx.data.subarray(1, 9));
    const mint = base58.encode(key(tokenIx, 1));
    let to = base58.encode(key(tokenIx, 2));
    const create = rest.find((ix) => same(ix.program, ATA));
    if (create) {
      fee += 2039280n;
      to = base58.encode(key(create, 2));
      lines.push(["creates the recipient's token account", "if missing (rent counted in the fee)"]);
    }
    lines.push(["mint", mint], ["decimals in the instruction", String(tokenIx.data[9])]);
    return { transfers: [{ to, amount }], amount, fee, token: mint, lines };
  }
  const transfers = rest.map((ix) => {
    if (!same(ix.program, SYSTEM) || ix.data.length !== 12 || le(ix.data.subarray(0, 4)) !== 2n) {
      throw new Error("an instruction is not a System transfer");
    }
    return { to: base58.encode(key(ix, 1)), amount: le(ix.data.subarray(4, 12)) };
  });
  return { transfers, amount: transfers.reduce((a, t) => a + t.amount, 0n), fee, lines };
}

// ----- Bitcoin -----

function varint(r: Reader): number {
  const b = r.byte("varint");
  if (b < 0xfd) return b;
  if (b === 0xfd) return Number(le(r.take(2, "varint")));
  if (b === 0xfe) return Number(le(r.take(4, "varint")));
  throw new Error("varint too large");
}

function btcAddress(script: Uint8Array, mainnet: boolean): string {
  const hrp = mainnet ? "bc" : "tb";
  if (script.length === 22 && script[0] === 0x00 && script[1] === 0x14) {
    return bech32.encode(hrp, [0, ...bech32.toWords(script.subarray(2))]);
  }
  if (script.length === 34 && script[0] === 0x51 && script[1] === 0x20) {
    return bech32m.encode(hrp, [1, ...bech32m.toWords(script.subarray(2))]);
  }
  return `script ${hex(script)}`;
}

function parseBtc(p: Uint8Array, extras: any, from: string, mainnet: boolean): Parsed {
  const r = new Reader(p);
  const version = le(r.take(4, "version"));
  const nIn = varint(r);
  for (let i = 0; i < nIn; i++) {
    r.take(36, "outpoint");
    r.take(varint(r), "script sig");
    r.take(4, "sequence");
  }
  const nOut = varint(r);
  const outs: { to: string; amount: bigint }[] = [];
  for (let i = 0; i < nOut; i++) {
    const amount = le(r.take(8, "value"));
    outs.push({ to: btcAddress(r.take(varint(r), "script"), mainnet), amount });
  }
  const lock = le(r.take(4, "lock time"));
  if (!r.done()) throw new Error("trailing bytes");
  const spent: any[] = extras?.spent_outputs ?? [];
  const inputs = spent.reduce((a: bigint, s: any) => a + BigInt(s.amount ?? s.value ?? 0), 0n);
  const total = outs.reduce((a, o) => a + o.amount, 0n);
  const transfers = outs.filter((o) => o.to !== from);
  const change = outs.filter((o) => o.to === from).reduce((a, o) => a + o.amount, 0n);
  const lines: [string, string][] = [
    ["version", version.toString()],
    ["inputs", String(nIn)],
    ["change back to the wallet", `${change} sat`],
    ["lock time", lock.toString()],
  ];
  return { transfers, amount: transfers.reduce((a, t) => a + t.amount, 0n), fee: inputs - total, lines };
}

export function parsePayload(chain: string, network: string, payload: Uint8Array, extras: any, from: string): Parsed {
  switch (chain) {
    case "ethereum":
      return parseEth(payload);
    case "solana":
      return parseSol(payload);
    case "bitcoin_p2wpkh":
    case "bitcoin_p2tr":
      return parseBtc(payload, extras, from, network === "mainnet");
    default:
      throw new Error(`unknown chain ${chain}`);
  }
}
