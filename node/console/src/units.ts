// Amounts in human units: integer smallest units and the asset's decimals, never floats.

export function formatUnits(v: bigint, decimals: number): string {
  const neg = v < 0n;
  let a = neg ? -v : v;
  const base = 10n ** BigInt(decimals);
  const whole = a / base;
  a = a % base;
  let frac = decimals > 0 ? a.toString().padStart(decimals, "0").replace(/0+$/, "") : "";
  const w = whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (neg ? "-" : "") + w + (frac ? "." + frac : "");
}

export const NATIVE: Record<string, { symbol: string; decimals: number }> = {
  ethereum: { symbol: "ETH", decimals: 18 },
  solana: { symbol: "SOL", decimals: 9 },
  bitcoin_p2wpkh: { symbol: "BTC", decimals: 8 },
  bitcoin_p2tr: { symbol: "BTC", decimals: 8 },
};
