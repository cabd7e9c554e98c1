"use strict";
(() => {
  // src/codec.ts
  var enc = new TextEncoder();
  function utf8(s) {
    return enc.encode(s);
  }
  function hex(b) {
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  function fromHex(s) {
    if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new Error("not hex");
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
  function b64url(b) {
    const bytes2 = b instanceof Uint8Array ? b : new Uint8Array(b);
    let s = "";
    for (const x of bytes2) s += String.fromCharCode(x);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function fromB64url(s) {
    const std = s.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(std + "=".repeat((4 - std.length % 4) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
  function field(b) {
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(b.length));
    return concat(len, b);
  }
  function u64be(v) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, v);
    return out;
  }
  async function sha256(b) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", b));
  }

  // src/challenge.ts
  var PASSKEY_DECISION = utf8("mpc-node/v1/passkey-decision\n");
  var PASSKEY_REGISTRATION = utf8("mpc-node/v1/passkey-registration\n");
  var PASSKEY_SIGN_IN = utf8("mpc-node/v1/passkey-sign-in\n");
  var INTENT_DIGEST = utf8("mpc-node/v1/intent-digest\n");
  var COMMAND_SIGNATURE = utf8("mpc-node/v1/command-signature\n");
  async function decisionChallenge(cluster, org, requestId, intentDigest2, policyVersion, decision, reason) {
    return sha256(
      concat(
        PASSKEY_DECISION,
        field(utf8(cluster)),
        field(utf8(org)),
        field(utf8(requestId)),
        field(utf8(intentDigest2)),
        field(u64be(BigInt(policyVersion))),
        field(utf8(decision)),
        field(utf8(reason))
      )
    );
  }
  async function registrationChallenge(cluster, org, user, inviteKey) {
    return sha256(
      concat(PASSKEY_REGISTRATION, field(utf8(cluster)), field(utf8(org)), field(utf8(user)), field(inviteKey))
    );
  }
  async function signInChallenge(cluster, node, nonce) {
    return sha256(concat(PASSKEY_SIGN_IN, field(utf8(cluster)), field(utf8(node)), field(nonce)));
  }
  function canonical(v) {
    if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
    if (v !== null && typeof v === "object") {
      const o = v;
      const keys = Object.keys(o).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`;
    }
    return JSON.stringify(v);
  }
  async function intentDigest(cluster, requestId, walletId, payload, extras, intent) {
    const d = await sha256(
      concat(
        INTENT_DIGEST,
        field(utf8(cluster)),
        field(utf8(requestId)),
        field(utf8(walletId)),
        field(payload),
        field(utf8(canonical(extras))),
        field(utf8(canonical(intent)))
      )
    );
    return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  // src/dom.ts
  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    for (const c of children) {
      if (c === null || c === void 0 || c === false) continue;
      e.append(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return e;
  }
  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
  }
  function table(head, rows, label) {
    return el(
      "table",
      { "aria-label": label },
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c)))))
    );
  }
  function age(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1e3));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }

  // src/passkey.ts
  async function assert(challenge, credentialIds = []) {
    const cred = await navigator.credentials.get({
      publicKey: {
        challenge,
        rpId: location.hostname,
        userVerification: "required",
        timeout: 6e4,
        allowCredentials: credentialIds.map((id) => ({ type: "public-key", id: fromB64url(id) }))
      }
    });
    if (!cred) throw new Error("no passkey was used");
    const r = cred.response;
    return {
      credential_id: b64url(cred.rawId),
      authenticator_data: b64url(r.authenticatorData),
      client_data_json: b64url(r.clientDataJSON),
      signature: b64url(r.signature)
    };
  }
  async function create(challenge, org, user) {
    const cred = await navigator.credentials.create({
      publicKey: {
        rp: { id: location.hostname, name: `mpc-node (${org})` },
        user: { id: utf8(`${org}/${user}`), name: user, displayName: `${user} (${org})` },
        challenge,
        pubKeyCredParams: [
          { type: "public-key", alg: -7 },
          { type: "public-key", alg: -8 }
        ],
        authenticatorSelection: { residentKey: "required", userVerification: "required" },
        attestation: "none",
        timeout: 6e4
      }
    });
    if (!cred) throw new Error("no passkey was created");
    const r = cred.response;
    return {
      attestation_object: b64url(r.attestationObject),
      client_data_json: b64url(r.clientDataJSON),
      credential_id: b64url(cred.rawId)
    };
  }
  async function invitationKey(seedHex) {
    const seed = fromHex(seedHex);
    if (seed.length !== 32) throw new Error("the invitation secret must be 32 bytes of hex");
    const pkcs8 = concat(fromHex("302e020100300506032b657004220420"), seed);
    const key = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]);
    const jwk = await crypto.subtle.exportKey("jwk", key);
    if (!jwk.x) throw new Error("this browser cannot use Ed25519 keys");
    return { key, publicKey: fromB64url(jwk.x) };
  }
  async function signEd25519(key, msg) {
    return hex(new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, msg)));
  }

  // node_modules/@noble/hashes/esm/_u64.js
  var U32_MASK64 = /* @__PURE__ */ BigInt(2 ** 32 - 1);
  var _32n = /* @__PURE__ */ BigInt(32);
  function fromBig(n, le2 = false) {
    if (le2)
      return { h: Number(n & U32_MASK64), l: Number(n >> _32n & U32_MASK64) };
    return { h: Number(n >> _32n & U32_MASK64) | 0, l: Number(n & U32_MASK64) | 0 };
  }
  function split(lst, le2 = false) {
    const len = lst.length;
    let Ah = new Uint32Array(len);
    let Al = new Uint32Array(len);
    for (let i = 0; i < len; i++) {
      const { h, l } = fromBig(lst[i], le2);
      [Ah[i], Al[i]] = [h, l];
    }
    return [Ah, Al];
  }
  var rotlSH = (h, l, s) => h << s | l >>> 32 - s;
  var rotlSL = (h, l, s) => l << s | h >>> 32 - s;
  var rotlBH = (h, l, s) => l << s - 32 | h >>> 64 - s;
  var rotlBL = (h, l, s) => h << s - 32 | l >>> 64 - s;

  // node_modules/@noble/hashes/esm/utils.js
  function isBytes(a) {
    return a instanceof Uint8Array || ArrayBuffer.isView(a) && a.constructor.name === "Uint8Array";
  }
  function anumber(n) {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new Error("positive integer expected, got " + n);
  }
  function abytes(b, ...lengths) {
    if (!isBytes(b))
      throw new Error("Uint8Array expected");
    if (lengths.length > 0 && !lengths.includes(b.length))
      throw new Error("Uint8Array expected of length " + lengths + ", got length=" + b.length);
  }
  function aexists(instance, checkFinished = true) {
    if (instance.destroyed)
      throw new Error("Hash instance has been destroyed");
    if (checkFinished && instance.finished)
      throw new Error("Hash#digest() has already been called");
  }
  function aoutput(out, instance) {
    abytes(out);
    const min = instance.outputLen;
    if (out.length < min) {
      throw new Error("digestInto() expects output buffer of length at least " + min);
    }
  }
  function u32(arr) {
    return new Uint32Array(arr.buffer, arr.byteOffset, Math.floor(arr.byteLength / 4));
  }
  function clean(...arrays) {
    for (let i = 0; i < arrays.length; i++) {
      arrays[i].fill(0);
    }
  }
  var isLE = /* @__PURE__ */ (() => new Uint8Array(new Uint32Array([287454020]).buffer)[0] === 68)();
  function byteSwap(word) {
    return word << 24 & 4278190080 | word << 8 & 16711680 | word >>> 8 & 65280 | word >>> 24 & 255;
  }
  function byteSwap32(arr) {
    for (let i = 0; i < arr.length; i++) {
      arr[i] = byteSwap(arr[i]);
    }
    return arr;
  }
  var swap32IfBE = isLE ? (u) => u : byteSwap32;
  function utf8ToBytes(str) {
    if (typeof str !== "string")
      throw new Error("string expected");
    return new Uint8Array(new TextEncoder().encode(str));
  }
  function toBytes(data) {
    if (typeof data === "string")
      data = utf8ToBytes(data);
    abytes(data);
    return data;
  }
  var Hash = class {
  };
  function createHasher(hashCons) {
    const hashC = (msg) => hashCons().update(toBytes(msg)).digest();
    const tmp = hashCons();
    hashC.outputLen = tmp.outputLen;
    hashC.blockLen = tmp.blockLen;
    hashC.create = () => hashCons();
    return hashC;
  }

  // node_modules/@noble/hashes/esm/sha3.js
  var _0n = BigInt(0);
  var _1n = BigInt(1);
  var _2n = BigInt(2);
  var _7n = BigInt(7);
  var _256n = BigInt(256);
  var _0x71n = BigInt(113);
  var SHA3_PI = [];
  var SHA3_ROTL = [];
  var _SHA3_IOTA = [];
  for (let round = 0, R = _1n, x = 1, y = 0; round < 24; round++) {
    [x, y] = [y, (2 * x + 3 * y) % 5];
    SHA3_PI.push(2 * (5 * y + x));
    SHA3_ROTL.push((round + 1) * (round + 2) / 2 % 64);
    let t = _0n;
    for (let j = 0; j < 7; j++) {
      R = (R << _1n ^ (R >> _7n) * _0x71n) % _256n;
      if (R & _2n)
        t ^= _1n << (_1n << /* @__PURE__ */ BigInt(j)) - _1n;
    }
    _SHA3_IOTA.push(t);
  }
  var IOTAS = split(_SHA3_IOTA, true);
  var SHA3_IOTA_H = IOTAS[0];
  var SHA3_IOTA_L = IOTAS[1];
  var rotlH = (h, l, s) => s > 32 ? rotlBH(h, l, s) : rotlSH(h, l, s);
  var rotlL = (h, l, s) => s > 32 ? rotlBL(h, l, s) : rotlSL(h, l, s);
  function keccakP(s, rounds = 24) {
    const B = new Uint32Array(5 * 2);
    for (let round = 24 - rounds; round < 24; round++) {
      for (let x = 0; x < 10; x++)
        B[x] = s[x] ^ s[x + 10] ^ s[x + 20] ^ s[x + 30] ^ s[x + 40];
      for (let x = 0; x < 10; x += 2) {
        const idx1 = (x + 8) % 10;
        const idx0 = (x + 2) % 10;
        const B0 = B[idx0];
        const B1 = B[idx0 + 1];
        const Th = rotlH(B0, B1, 1) ^ B[idx1];
        const Tl = rotlL(B0, B1, 1) ^ B[idx1 + 1];
        for (let y = 0; y < 50; y += 10) {
          s[x + y] ^= Th;
          s[x + y + 1] ^= Tl;
        }
      }
      let curH = s[2];
      let curL = s[3];
      for (let t = 0; t < 24; t++) {
        const shift = SHA3_ROTL[t];
        const Th = rotlH(curH, curL, shift);
        const Tl = rotlL(curH, curL, shift);
        const PI = SHA3_PI[t];
        curH = s[PI];
        curL = s[PI + 1];
        s[PI] = Th;
        s[PI + 1] = Tl;
      }
      for (let y = 0; y < 50; y += 10) {
        for (let x = 0; x < 10; x++)
          B[x] = s[y + x];
        for (let x = 0; x < 10; x++)
          s[y + x] ^= ~B[(x + 2) % 10] & B[(x + 4) % 10];
      }
      s[0] ^= SHA3_IOTA_H[round];
      s[1] ^= SHA3_IOTA_L[round];
    }
    clean(B);
  }
  var Keccak = class _Keccak extends Hash {
    // NOTE: we accept arguments in bytes instead of bits here.
    constructor(blockLen, suffix, outputLen, enableXOF = false, rounds = 24) {
      super();
      this.pos = 0;
      this.posOut = 0;
      this.finished = false;
      this.destroyed = false;
      this.enableXOF = false;
      this.blockLen = blockLen;
      this.suffix = suffix;
      this.outputLen = outputLen;
      this.enableXOF = enableXOF;
      this.rounds = rounds;
      anumber(outputLen);
      if (!(0 < blockLen && blockLen < 200))
        throw new Error("only keccak-f1600 function is supported");
      this.state = new Uint8Array(200);
      this.state32 = u32(this.state);
    }
    clone() {
      return this._cloneInto();
    }
    keccak() {
      swap32IfBE(this.state32);
      keccakP(this.state32, this.rounds);
      swap32IfBE(this.state32);
      this.posOut = 0;
      this.pos = 0;
    }
    update(data) {
      aexists(this);
      data = toBytes(data);
      abytes(data);
      const { blockLen, state } = this;
      const len = data.length;
      for (let pos = 0; pos < len; ) {
        const take = Math.min(blockLen - this.pos, len - pos);
        for (let i = 0; i < take; i++)
          state[this.pos++] ^= data[pos++];
        if (this.pos === blockLen)
          this.keccak();
      }
      return this;
    }
    finish() {
      if (this.finished)
        return;
      this.finished = true;
      const { state, suffix, pos, blockLen } = this;
      state[pos] ^= suffix;
      if ((suffix & 128) !== 0 && pos === blockLen - 1)
        this.keccak();
      state[blockLen - 1] ^= 128;
      this.keccak();
    }
    writeInto(out) {
      aexists(this, false);
      abytes(out);
      this.finish();
      const bufferOut = this.state;
      const { blockLen } = this;
      for (let pos = 0, len = out.length; pos < len; ) {
        if (this.posOut >= blockLen)
          this.keccak();
        const take = Math.min(blockLen - this.posOut, len - pos);
        out.set(bufferOut.subarray(this.posOut, this.posOut + take), pos);
        this.posOut += take;
        pos += take;
      }
      return out;
    }
    xofInto(out) {
      if (!this.enableXOF)
        throw new Error("XOF is not possible for this instance");
      return this.writeInto(out);
    }
    xof(bytes2) {
      anumber(bytes2);
      return this.xofInto(new Uint8Array(bytes2));
    }
    digestInto(out) {
      aoutput(out, this);
      if (this.finished)
        throw new Error("digest() was already called");
      this.writeInto(out);
      this.destroy();
      return out;
    }
    digest() {
      return this.digestInto(new Uint8Array(this.outputLen));
    }
    destroy() {
      this.destroyed = true;
      clean(this.state);
    }
    _cloneInto(to) {
      const { blockLen, suffix, outputLen, rounds, enableXOF } = this;
      to || (to = new _Keccak(blockLen, suffix, outputLen, enableXOF, rounds));
      to.state32.set(this.state32);
      to.pos = this.pos;
      to.posOut = this.posOut;
      to.finished = this.finished;
      to.rounds = rounds;
      to.suffix = suffix;
      to.outputLen = outputLen;
      to.enableXOF = enableXOF;
      to.destroyed = this.destroyed;
      return to;
    }
  };
  var gen = (suffix, blockLen, outputLen) => createHasher(() => new Keccak(blockLen, suffix, outputLen));
  var keccak_256 = /* @__PURE__ */ (() => gen(1, 136, 256 / 8))();

  // node_modules/@scure/base/lib/esm/index.js
  function isBytes2(a) {
    return a instanceof Uint8Array || ArrayBuffer.isView(a) && a.constructor.name === "Uint8Array";
  }
  function isArrayOf(isString, arr) {
    if (!Array.isArray(arr))
      return false;
    if (arr.length === 0)
      return true;
    if (isString) {
      return arr.every((item) => typeof item === "string");
    } else {
      return arr.every((item) => Number.isSafeInteger(item));
    }
  }
  function afn(input) {
    if (typeof input !== "function")
      throw new Error("function expected");
    return true;
  }
  function astr(label, input) {
    if (typeof input !== "string")
      throw new Error(`${label}: string expected`);
    return true;
  }
  function anumber2(n) {
    if (!Number.isSafeInteger(n))
      throw new Error(`invalid integer: ${n}`);
  }
  function aArr(input) {
    if (!Array.isArray(input))
      throw new Error("array expected");
  }
  function astrArr(label, input) {
    if (!isArrayOf(true, input))
      throw new Error(`${label}: array of strings expected`);
  }
  function anumArr(label, input) {
    if (!isArrayOf(false, input))
      throw new Error(`${label}: array of numbers expected`);
  }
  // @__NO_SIDE_EFFECTS__
  function chain(...args) {
    const id = (a) => a;
    const wrap = (a, b) => (c) => a(b(c));
    const encode = args.map((x) => x.encode).reduceRight(wrap, id);
    const decode = args.map((x) => x.decode).reduce(wrap, id);
    return { encode, decode };
  }
  // @__NO_SIDE_EFFECTS__
  function alphabet(letters) {
    const lettersA = typeof letters === "string" ? letters.split("") : letters;
    const len = lettersA.length;
    astrArr("alphabet", lettersA);
    const indexes = new Map(lettersA.map((l, i) => [l, i]));
    return {
      encode: (digits) => {
        aArr(digits);
        return digits.map((i) => {
          if (!Number.isSafeInteger(i) || i < 0 || i >= len)
            throw new Error(`alphabet.encode: digit index outside alphabet "${i}". Allowed: ${letters}`);
          return lettersA[i];
        });
      },
      decode: (input) => {
        aArr(input);
        return input.map((letter) => {
          astr("alphabet.decode", letter);
          const i = indexes.get(letter);
          if (i === void 0)
            throw new Error(`Unknown letter: "${letter}". Allowed: ${letters}`);
          return i;
        });
      }
    };
  }
  // @__NO_SIDE_EFFECTS__
  function join(separator = "") {
    astr("join", separator);
    return {
      encode: (from) => {
        astrArr("join.decode", from);
        return from.join(separator);
      },
      decode: (to) => {
        astr("join.decode", to);
        return to.split(separator);
      }
    };
  }
  function convertRadix(data, from, to) {
    if (from < 2)
      throw new Error(`convertRadix: invalid from=${from}, base cannot be less than 2`);
    if (to < 2)
      throw new Error(`convertRadix: invalid to=${to}, base cannot be less than 2`);
    aArr(data);
    if (!data.length)
      return [];
    let pos = 0;
    const res = [];
    const digits = Array.from(data, (d) => {
      anumber2(d);
      if (d < 0 || d >= from)
        throw new Error(`invalid integer: ${d}`);
      return d;
    });
    const dlen = digits.length;
    while (true) {
      let carry = 0;
      let done = true;
      for (let i = pos; i < dlen; i++) {
        const digit = digits[i];
        const fromCarry = from * carry;
        const digitBase = fromCarry + digit;
        if (!Number.isSafeInteger(digitBase) || fromCarry / from !== carry || digitBase - digit !== fromCarry) {
          throw new Error("convertRadix: carry overflow");
        }
        const div = digitBase / to;
        carry = digitBase % to;
        const rounded = Math.floor(div);
        digits[i] = rounded;
        if (!Number.isSafeInteger(rounded) || rounded * to + carry !== digitBase)
          throw new Error("convertRadix: carry overflow");
        if (!done)
          continue;
        else if (!rounded)
          pos = i;
        else
          done = false;
      }
      res.push(carry);
      if (done)
        break;
    }
    for (let i = 0; i < data.length - 1 && data[i] === 0; i++)
      res.push(0);
    return res.reverse();
  }
  var gcd = (a, b) => b === 0 ? a : gcd(b, a % b);
  var radix2carry = /* @__NO_SIDE_EFFECTS__ */ (from, to) => from + (to - gcd(from, to));
  var powers = /* @__PURE__ */ (() => {
    let res = [];
    for (let i = 0; i < 40; i++)
      res.push(2 ** i);
    return res;
  })();
  function convertRadix2(data, from, to, padding) {
    aArr(data);
    if (from <= 0 || from > 32)
      throw new Error(`convertRadix2: wrong from=${from}`);
    if (to <= 0 || to > 32)
      throw new Error(`convertRadix2: wrong to=${to}`);
    if (/* @__PURE__ */ radix2carry(from, to) > 32) {
      throw new Error(`convertRadix2: carry overflow from=${from} to=${to} carryBits=${/* @__PURE__ */ radix2carry(from, to)}`);
    }
    let carry = 0;
    let pos = 0;
    const max = powers[from];
    const mask = powers[to] - 1;
    const res = [];
    for (const n of data) {
      anumber2(n);
      if (n >= max)
        throw new Error(`convertRadix2: invalid data word=${n} from=${from}`);
      carry = carry << from | n;
      if (pos + from > 32)
        throw new Error(`convertRadix2: carry overflow pos=${pos} from=${from}`);
      pos += from;
      for (; pos >= to; pos -= to)
        res.push((carry >> pos - to & mask) >>> 0);
      const pow = powers[pos];
      if (pow === void 0)
        throw new Error("invalid carry");
      carry &= pow - 1;
    }
    carry = carry << to - pos & mask;
    if (!padding && pos >= from)
      throw new Error("Excess padding");
    if (!padding && carry > 0)
      throw new Error(`Non-zero padding: ${carry}`);
    if (padding && pos > 0)
      res.push(carry >>> 0);
    return res;
  }
  // @__NO_SIDE_EFFECTS__
  function radix(num) {
    anumber2(num);
    const _256 = 2 ** 8;
    return {
      encode: (bytes2) => {
        if (!isBytes2(bytes2))
          throw new Error("radix.encode input should be Uint8Array");
        return convertRadix(Array.from(bytes2), _256, num);
      },
      decode: (digits) => {
        anumArr("radix.decode", digits);
        return Uint8Array.from(convertRadix(digits, num, _256));
      }
    };
  }
  // @__NO_SIDE_EFFECTS__
  function radix2(bits, revPadding = false) {
    anumber2(bits);
    if (bits <= 0 || bits > 32)
      throw new Error("radix2: bits should be in (0..32]");
    if (/* @__PURE__ */ radix2carry(8, bits) > 32 || /* @__PURE__ */ radix2carry(bits, 8) > 32)
      throw new Error("radix2: carry overflow");
    return {
      encode: (bytes2) => {
        if (!isBytes2(bytes2))
          throw new Error("radix2.encode input should be Uint8Array");
        return convertRadix2(Array.from(bytes2), 8, bits, !revPadding);
      },
      decode: (digits) => {
        anumArr("radix2.decode", digits);
        return Uint8Array.from(convertRadix2(digits, bits, 8, revPadding));
      }
    };
  }
  function unsafeWrapper(fn) {
    afn(fn);
    return function(...args) {
      try {
        return fn.apply(null, args);
      } catch (e) {
      }
    };
  }
  var genBase58 = /* @__NO_SIDE_EFFECTS__ */ (abc) => /* @__PURE__ */ chain(/* @__PURE__ */ radix(58), /* @__PURE__ */ alphabet(abc), /* @__PURE__ */ join(""));
  var base58 = /* @__PURE__ */ genBase58("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz");
  var BECH_ALPHABET = /* @__PURE__ */ chain(/* @__PURE__ */ alphabet("qpzry9x8gf2tvdw0s3jn54khce6mua7l"), /* @__PURE__ */ join(""));
  var POLYMOD_GENERATORS = [996825010, 642813549, 513874426, 1027748829, 705979059];
  function bech32Polymod(pre) {
    const b = pre >> 25;
    let chk = (pre & 33554431) << 5;
    for (let i = 0; i < POLYMOD_GENERATORS.length; i++) {
      if ((b >> i & 1) === 1)
        chk ^= POLYMOD_GENERATORS[i];
    }
    return chk;
  }
  function bechChecksum(prefix, words, encodingConst = 1) {
    const len = prefix.length;
    let chk = 1;
    for (let i = 0; i < len; i++) {
      const c = prefix.charCodeAt(i);
      if (c < 33 || c > 126)
        throw new Error(`Invalid prefix (${prefix})`);
      chk = bech32Polymod(chk) ^ c >> 5;
    }
    chk = bech32Polymod(chk);
    for (let i = 0; i < len; i++)
      chk = bech32Polymod(chk) ^ prefix.charCodeAt(i) & 31;
    for (let v of words)
      chk = bech32Polymod(chk) ^ v;
    for (let i = 0; i < 6; i++)
      chk = bech32Polymod(chk);
    chk ^= encodingConst;
    return BECH_ALPHABET.encode(convertRadix2([chk % powers[30]], 30, 5, false));
  }
  // @__NO_SIDE_EFFECTS__
  function genBech32(encoding) {
    const ENCODING_CONST = encoding === "bech32" ? 1 : 734539939;
    const _words = /* @__PURE__ */ radix2(5);
    const fromWords = _words.decode;
    const toWords = _words.encode;
    const fromWordsUnsafe = unsafeWrapper(fromWords);
    function encode(prefix, words, limit = 90) {
      astr("bech32.encode prefix", prefix);
      if (isBytes2(words))
        words = Array.from(words);
      anumArr("bech32.encode", words);
      const plen = prefix.length;
      if (plen === 0)
        throw new TypeError(`Invalid prefix length ${plen}`);
      const actualLength = plen + 7 + words.length;
      if (limit !== false && actualLength > limit)
        throw new TypeError(`Length ${actualLength} exceeds limit ${limit}`);
      const lowered = prefix.toLowerCase();
      const sum = bechChecksum(lowered, words, ENCODING_CONST);
      return `${lowered}1${BECH_ALPHABET.encode(words)}${sum}`;
    }
    function decode(str, limit = 90) {
      astr("bech32.decode input", str);
      const slen = str.length;
      if (slen < 8 || limit !== false && slen > limit)
        throw new TypeError(`invalid string length: ${slen} (${str}). Expected (8..${limit})`);
      const lowered = str.toLowerCase();
      if (str !== lowered && str !== str.toUpperCase())
        throw new Error(`String must be lowercase or uppercase`);
      const sepIndex = lowered.lastIndexOf("1");
      if (sepIndex === 0 || sepIndex === -1)
        throw new Error(`Letter "1" must be present between prefix and data only`);
      const prefix = lowered.slice(0, sepIndex);
      const data = lowered.slice(sepIndex + 1);
      if (data.length < 6)
        throw new Error("Data must be at least 6 characters long");
      const words = BECH_ALPHABET.decode(data).slice(0, -6);
      const sum = bechChecksum(prefix, words, ENCODING_CONST);
      if (!data.endsWith(sum))
        throw new Error(`Invalid checksum in ${str}: expected "${sum}"`);
      return { prefix, words };
    }
    const decodeUnsafe = unsafeWrapper(decode);
    function decodeToBytes(str) {
      const { prefix, words } = decode(str, false);
      return { prefix, words, bytes: fromWords(words) };
    }
    function encodeFromBytes(prefix, bytes2) {
      return encode(prefix, toWords(bytes2));
    }
    return {
      encode,
      decode,
      encodeFromBytes,
      decodeToBytes,
      decodeUnsafe,
      fromWords,
      fromWordsUnsafe,
      toWords
    };
  }
  var bech32 = /* @__PURE__ */ genBech32("bech32");
  var bech32m = /* @__PURE__ */ genBech32("bech32m");

  // src/parse.ts
  var Reader = class {
    constructor(b, o = 0) {
      this.b = b;
      this.o = o;
    }
    take(n, what) {
      if (n < 0 || this.o + n > this.b.length) throw new Error(`truncated ${what}`);
      const s = this.b.subarray(this.o, this.o + n);
      this.o += n;
      return s;
    }
    byte(what) {
      return this.take(1, what)[0];
    }
    done() {
      return this.o === this.b.length;
    }
  };
  function le(b) {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = v << 8n | BigInt(b[i]);
    return v;
  }
  function be(b) {
    let v = 0n;
    for (const x of b) v = v << 8n | BigInt(x);
    return v;
  }
  function rlp(r, depth = 0) {
    if (depth > 4) throw new Error("RLP nested too deep");
    const p = r.byte("RLP");
    if (p < 128) return Uint8Array.of(p);
    if (p < 184) return r.take(p - 128, "RLP string");
    if (p < 192) return r.take(Number(be(r.take(p - 183, "RLP length"))), "RLP string");
    const len = p < 248 ? p - 192 : Number(be(r.take(p - 247, "RLP length")));
    const end = r.o + len;
    const items = [];
    while (r.o < end) items.push(rlp(r, depth + 1));
    if (r.o !== end) throw new Error("RLP list length");
    return items;
  }
  function bytes(x, what) {
    if (!(x instanceof Uint8Array)) throw new Error(`${what} is not a string`);
    return x;
  }
  function checksum(addr) {
    const lower = hex(addr);
    const h = hex(keccak_256(new TextEncoder().encode(lower)));
    let out = "0x";
    for (let i = 0; i < 40; i++) out += parseInt(h[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
    return out;
  }
  function parseEth(p) {
    const eip1559 = p[0] === 2;
    const r = new Reader(p, eip1559 ? 1 : 0);
    const f = rlp(r);
    if (!r.done() || !Array.isArray(f)) throw new Error("not an RLP transaction");
    let chainId, nonce, gas, maxFee, to, value, data;
    const lines = [];
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
  var SYSTEM = new Uint8Array(32);
  var TOKEN = base58.decode("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
  var ATA = base58.decode("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");
  var same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  function compactU16(r, what) {
    let v = 0;
    for (let i = 0; i < 3; i++) {
      const b = r.byte(what);
      v |= (b & 127) << 7 * i;
      if ((b & 128) === 0) return v;
    }
    throw new Error(`bad compact-u16 ${what}`);
  }
  function parseSol(p) {
    const r = new Reader(p);
    const [sigs] = [r.byte("header"), r.byte("header"), r.byte("header")];
    const n = compactU16(r, "account keys");
    const keys = [];
    for (let i = 0; i < n; i++) keys.push(r.take(32, "account key"));
    const blockhash = r.take(32, "blockhash");
    const nIx = compactU16(r, "instructions");
    const ixs = [];
    for (let i = 0; i < nIx; i++) {
      const prog = keys[r.byte("program")];
      if (!prog) throw new Error("program index out of range");
      const accs = r.take(compactU16(r, "accounts"), "accounts");
      const data = r.take(compactU16(r, "data"), "data");
      ixs.push({ program: prog, accs, data });
    }
    if (!r.done()) throw new Error("trailing bytes");
    const key = (ix, i) => {
      const k = keys[ix.accs[i]];
      if (!k) throw new Error("account index out of range");
      return k;
    };
    const lines = [["signatures", String(sigs)]];
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
      const create2 = rest.find((ix) => same(ix.program, ATA));
      if (create2) {
        fee += 2039280n;
        to = base58.encode(key(create2, 2));
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
  function varint(r) {
    const b = r.byte("varint");
    if (b < 253) return b;
    if (b === 253) return Number(le(r.take(2, "varint")));
    if (b === 254) return Number(le(r.take(4, "varint")));
    throw new Error("varint too large");
  }
  function btcAddress(script, mainnet) {
    const hrp = mainnet ? "bc" : "tb";
    if (script.length === 22 && script[0] === 0 && script[1] === 20) {
      return bech32.encode(hrp, [0, ...bech32.toWords(script.subarray(2))]);
    }
    if (script.length === 34 && script[0] === 81 && script[1] === 32) {
      return bech32m.encode(hrp, [1, ...bech32m.toWords(script.subarray(2))]);
    }
    return `script ${hex(script)}`;
  }
  function parseBtc(p, extras, from, mainnet) {
    const r = new Reader(p);
    const version = le(r.take(4, "version"));
    const nIn = varint(r);
    for (let i = 0; i < nIn; i++) {
      r.take(36, "outpoint");
      r.take(varint(r), "script sig");
      r.take(4, "sequence");
    }
    const nOut = varint(r);
    const outs = [];
    for (let i = 0; i < nOut; i++) {
      const amount = le(r.take(8, "value"));
      outs.push({ to: btcAddress(r.take(varint(r), "script"), mainnet), amount });
    }
    const lock = le(r.take(4, "lock time"));
    if (!r.done()) throw new Error("trailing bytes");
    const spent = extras?.spent_outputs ?? [];
    const inputs = spent.reduce((a, s) => a + BigInt(s.amount ?? s.value ?? 0), 0n);
    const total = outs.reduce((a, o) => a + o.amount, 0n);
    const transfers = outs.filter((o) => o.to !== from);
    const change = outs.filter((o) => o.to === from).reduce((a, o) => a + o.amount, 0n);
    const lines = [
      ["version", version.toString()],
      ["inputs", String(nIn)],
      ["change back to the wallet", `${change} sat`],
      ["lock time", lock.toString()]
    ];
    return { transfers, amount: transfers.reduce((a, t) => a + t.amount, 0n), fee: inputs - total, lines };
  }
  function parsePayload(chain2, network, payload, extras, from) {
    switch (chain2) {
      case "ethereum":
        return parseEth(payload);
      case "solana":
        return parseSol(payload);
      case "bitcoin_p2wpkh":
      case "bitcoin_p2tr":
        return parseBtc(payload, extras, from, network === "mainnet");
      default:
        throw new Error(`unknown chain ${chain2}`);
    }
  }

  // src/rpc.ts
  var nextId = 1;
  var RpcError = class extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  };
  async function call(method, params = {}) {
    const res = await fetch("/", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params })
    });
    const body = await res.json();
    if (body.error) throw new RpcError(body.error.code, body.error.message);
    return body.result;
  }
  function subscribe(params, onEvent, onClose) {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`);
    ws.onopen = () => ws.send(JSON.stringify({ jsonrpc: "2.0", id: nextId++, method: "request_subscribe", params }));
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data));
      if (msg.method && msg.params?.result) onEvent(msg.params.result);
    };
    ws.onclose = onClose;
    return ws;
  }

  // src/units.ts
  function formatUnits(v, decimals) {
    const neg = v < 0n;
    let a = neg ? -v : v;
    const base = 10n ** BigInt(decimals);
    const whole = a / base;
    a = a % base;
    let frac = decimals > 0 ? a.toString().padStart(decimals, "0").replace(/0+$/, "") : "";
    const w = whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-" : "") + w + (frac ? "." + frac : "");
  }
  var NATIVE = {
    ethereum: { symbol: "ETH", decimals: 18 },
    solana: { symbol: "SOL", decimals: 9 },
    bitcoin_p2wpkh: { symbol: "BTC", decimals: 8 },
    bitcoin_p2tr: { symbol: "BTC", decimals: 8 }
  };

  // src/main.ts
  var session = null;
  var socket = null;
  var selected = null;
  var labels = /* @__PURE__ */ new Map();
  var main = () => document.getElementById("main");
  var status = (text, kind = "info") => {
    const s = document.getElementById("status");
    s.textContent = text;
    s.className = `status ${kind}`;
  };
  function auth() {
    return { auth: { session: session?.token } };
  }
  async function read(method, params = {}) {
    return call(method, { ...params, ...auth() });
  }
  async function readAll(method, params, field2) {
    const all = [];
    let cursor = null;
    for (let pages = 0; pages < 200; pages++) {
      const page = await read(method, cursor === null ? params : { ...params, cursor });
      all.push(...page[field2]);
      cursor = page.next_cursor ?? null;
      if (cursor === null) return all;
    }
    throw new Error(`${method}: more than 200 pages`);
  }
  function signInView() {
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
        button
      )
    );
  }
  async function signIn(org) {
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
      status(`Sign-in failed: ${e.message}`, "error");
    }
  }
  function signOut() {
    if (session) void call("console_sign_out", { session: session.token }).catch(() => void 0);
    session = null;
    socket?.close();
    socket = null;
    document.getElementById("who").textContent = "";
    signInView();
    status("Signed out.");
  }
  async function registerView(params) {
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
        button
      )
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
            client_data_json: c.client_data_json
          }
        });
        const signature = await signEd25519(inv.key, concat(COMMAND_SIGNATURE, utf8(body)));
        await call("passkey_register", { command: { body, signer: hex(inv.publicKey), signature } });
        history.replaceState(null, "", "/");
        status(`Passkey registered for ${user}. You can sign in now.`, "ok");
        signInView();
      } catch (e) {
        status(`Registration failed: ${e.message}`, "error");
      }
    });
  }
  async function check(r) {
    try {
      const payload = fromHex(r.payload);
      const parsed = parsePayload(r.intent.chain, r.intent.network, payload, r.extras, r.intent.from);
      const digest = await intentDigest(session.cluster, r.request_id, r.wallet_id, payload, r.extras, r.intent);
      if (digest !== r.intent_digest) {
        return { parsed, problem: "the node's description of this request does not hash to its digest" };
      }
      const same2 = parsed.transfers.length === r.intent.transfers.length && parsed.transfers.every((t, i) => t.to === r.intent.transfers[i].to && t.amount === BigInt(r.intent.transfers[i].amount)) && parsed.amount === BigInt(r.intent.amount) && parsed.fee === BigInt(r.intent.fee) && (parsed.token ?? null) === (r.intent.token?.contract ?? null);
      if (!same2) return { parsed, problem: "the payload bytes do not say what the node's description says" };
      return { parsed, digest };
    } catch (e) {
      return { problem: `the payload could not be parsed here: ${e.message}` };
    }
  }
  function assetOf(r) {
    const native = NATIVE[r.intent.chain] ?? { symbol: "?", decimals: 0 };
    if (r.intent.token) return { symbol: r.intent.asset || "token", decimals: r.intent.token.decimals };
    return native;
  }
  function money(v, a) {
    return `${formatUnits(v, a.decimals)} ${a.symbol}`;
  }
  function destination(to) {
    const l = labels.get(to);
    return l ? `${to} (address book: ${l})` : to;
  }
  var SLOTS = ["pending", "detail-slot", "wallets", "history", "audit"];
  var detailKey = "";
  var refreshing = null;
  function slot(id) {
    if (!document.getElementById(id)) {
      clear(main());
      detailKey = "";
      for (const s of SLOTS) main().append(el("div", { id: s }));
    }
    return document.getElementById(id);
  }
  async function dashboard() {
    while (refreshing) await refreshing;
    refreshing = render().finally(() => {
      refreshing = null;
    });
    return refreshing;
  }
  async function render() {
    if (!session) return;
    document.getElementById("who").textContent = `${session.user} · ${session.org} · node ${session.node}`;
    const book = await readAll("addressbook_list", { org_id: session.org }, "entries").catch(() => []);
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
          c.problem ? `⚠ ${c.problem}` : "checked here"
        ];
      })
    );
    slot("pending").replaceChildren(
      el(
        "section",
        { "aria-labelledby": "pending-h" },
        el("h2", { id: "pending-h" }, `Waiting for approval (${pending.length})`),
        pending.length ? table(["Request", "Amount", "To", "Chain", "Age", "Console check"], pendingRows, "Requests waiting for approval") : el("p", {}, "Nothing to approve.")
      )
    );
    const sel = reqs.find((r) => r.request_id === selected);
    const key = sel ? `${sel.request_id}|${sel.status.state}|${Object.keys(sel.approvals).join(",")}` : "";
    if (key !== detailKey) {
      detailKey = key;
      slot("detail-slot").replaceChildren(...sel ? [await detail(sel)] : []);
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
            age(r.created_at_ms)
          ]),
          "Request history"
        )
      )
    );
    slot("audit").replaceChildren(await audit());
  }
  async function detail(r) {
    const c = await check(r);
    const a = assetOf(r);
    const native = NATIVE[r.intent.chain] ?? a;
    const rows = [
      ["Request", r.request_id],
      ["Chain", `${r.intent.chain} (${r.intent.network})`],
      ["From", r.intent.from]
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
      el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]))
    );
    if (c.problem) {
      section.append(el("p", { class: "status error", role: "alert" }, `Do not approve: ${c.problem}.`));
      return section;
    }
    section.append(el("p", { class: "status ok" }, "Parsed by this console from the transaction bytes; the digest matches."));
    if (r.status.state === "pending" && session.roles.includes("approver")) {
      const approve = el("button", { id: "approve", type: "button" }, "Approve with passkey");
      const reason = el("input", { id: "reason", name: "reason", placeholder: "reason for rejecting" });
      const reject = el("button", { id: "reject", type: "button", class: "secondary" }, "Reject with passkey");
      approve.addEventListener("click", () => void decide(r, c.digest, "approve", ""));
      reject.addEventListener("click", () => void decide(r, c.digest, "reject", reason.value.trim() || "rejected in the console"));
      section.append(el("div", { class: "actions" }, approve, el("label", { for: "reason" }, "Reason"), reason, reject));
    }
    return section;
  }
  async function decide(r, digest, decision, reason) {
    try {
      status("Confirm with your passkey…");
      const challenge = await decisionChallenge(session.cluster, session.org, r.request_id, digest, r.policy.version, decision, reason);
      const a = await assert(challenge);
      const d = { org_id: session.org, request_id: r.request_id, decision, ...a };
      if (decision === "reject") d.reason = reason;
      await call("request_passkey_decide", { decision: d });
      status(`${decision === "approve" ? "Approved" : "Rejected"} ${r.request_id}.`, "ok");
      await dashboard();
    } catch (e) {
      status(`The ${decision} was refused: ${e.message}`, "error");
    }
  }
  async function wallets() {
    const ws = (await read("wallet_list").catch(() => ({ wallets: [] }))).wallets.filter((w) => w.org_id === session.org);
    const rows = await Promise.all(
      ws.map(async (w) => {
        const b = await read("wallet_balance", { wallet_id: w.wallet_id }).catch(() => null);
        const bal = b ? `${formatUnits(BigInt(b.balance), b.decimals)} ${b.asset}` : "— (no chain provider)";
        return [w.wallet_id, w.vault_id, `${w.chain} ${w.network}`, el("code", {}, w.address), bal];
      })
    );
    const vaults = (await read("vault_list", { org_id: session.org }).catch(() => ({ vaults: [] }))).vaults.map((v) => [
      v.vault_id,
      v.name,
      v.status.state,
      `${v.threshold} of ${v.committee.length} nodes (${v.committee.join(", ")})`
    ]);
    return el(
      "section",
      { "aria-labelledby": "wallets-h" },
      el("h2", { id: "wallets-h" }, "Vaults and wallets"),
      table(["Vault", "Name", "Status", "Signers"], vaults, "Vaults"),
      table(["Wallet", "Vault", "Chain", "Address", "Balance"], rows, "Wallets")
    );
  }
  async function audit() {
    const s = el("section", { "aria-labelledby": "audit-h" }, el("h2", { id: "audit-h" }, "Audit log"));
    try {
      const a = await read("audit_list", { org_id: session.org, limit: 1e3 });
      const entries = a.entries.slice(-20).reverse();
      s.append(
        table(
          ["#", "Action", "Outcome", "When"],
          entries.map((e) => [String(e.seq), e.action, e.outcome, age(e.timestamp_ms)]),
          "Audit log"
        )
      );
    } catch (e) {
      s.append(el("p", {}, `Not shown: ${e.message}`));
    }
    return s;
  }
  function watch() {
    if (!session) return;
    socket?.close();
    let timer;
    socket = subscribe(
      { org_id: session.org, ...auth() },
      () => {
        clearTimeout(timer);
        timer = window.setTimeout(() => void dashboard().catch(() => void 0), 300);
      },
      () => {
        if (session) status("Live updates stopped (connection closed); reload to resume.", "error");
      }
    );
  }
  function start() {
    document.getElementById("sign-out").addEventListener("click", signOut);
    const hash = location.hash;
    if (hash.startsWith("#/invite?")) {
      void registerView(new URLSearchParams(hash.slice("#/invite?".length)));
    } else {
      signInView();
    }
  }
  start();
})();
