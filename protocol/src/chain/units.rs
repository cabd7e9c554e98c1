//! Amounts as people read them: base units (wei, satoshi, lamport) shown with the asset's
//! decimals, the base-unit value beside them. Every place a person reads an amount (CLI, demo,
//! docs) uses these functions.

use super::{Amount, Chain};

/// Decimals of a chain's native asset (ETH 18, BTC 8, SOL 9).
pub fn native_decimals(chain: Chain) -> u32 {
    match chain {
        Chain::Ethereum => 18,
        Chain::BitcoinP2wpkh | Chain::BitcoinP2tr => 8,
        Chain::Solana => 9,
    }
}

/// Name of a chain's native base unit.
pub fn base_unit(chain: Chain) -> &'static str {
    match chain {
        Chain::Ethereum => "wei",
        Chain::BitcoinP2wpkh | Chain::BitcoinP2tr => "sat",
        Chain::Solana => "lamport",
    }
}

/// `amount` base units as a decimal number with `decimals` places, trailing zeros dropped:
/// `format_units(10_000_000_000_000_000, 18)` is `"0.01"`.
pub fn format_units(amount: u128, decimals: u32) -> String {
    let digits = amount.to_string();
    let d = decimals as usize;
    if d == 0 {
        return digits;
    }
    let padded = if digits.len() <= d {
        format!("{}{digits}", "0".repeat(d + 1 - digits.len()))
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - d);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

/// The inverse of [`format_units`]: `"0.01"` with 18 decimals is `10_000_000_000_000_000`.
/// Refuses signs, exponents, more fraction digits than `decimals` (no silent rounding) and
/// values over 128 bits.
pub fn parse_units(text: &str, decimals: u32) -> Result<u128, String> {
    let bad = || {
        format!(
            "amount '{}' is not a decimal number with at most {decimals} decimals",
            text.chars().take(60).collect::<String>()
        )
    };
    if text.is_empty() || text.len() > 80 {
        return Err(bad());
    }
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > decimals as usize {
        return Err(bad());
    }
    if text.ends_with('.') {
        return Err(bad());
    }
    let scale = 10u128
        .checked_pow(decimals)
        .ok_or("too many decimals".to_string())?;
    let whole: u128 = int.parse().map_err(|_| bad())?;
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        let f: u128 = frac.parse().map_err(|_| bad())?;
        f * 10u128.pow(decimals - frac.len() as u32)
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_value))
        .ok_or_else(|| format!("amount '{text}' does not fit in 128 bits"))
}

/// A native amount for people: `"0.01 ETH (10000000000000000 wei)"`.
pub fn display_amount(chain: Chain, asset: &str, amount: Amount) -> String {
    format!(
        "{} {asset} ({} {})",
        format_units(amount.0, native_decimals(chain)),
        amount.0,
        base_unit(chain)
    )
}

/// An amount of the intent's asset for people: native as [`display_amount`]; a token as
/// `"2.5 TUSD (2500000 base units of 0x…)"`, with the decimals its registry entry gives.
pub fn display_intent_amount(intent: &super::Intent, amount: Amount) -> String {
    match &intent.token {
        Some(t) => format!(
            "{} {} ({} base units of {})",
            format_units(amount.0, u32::from(t.decimals)),
            intent.asset,
            amount.0,
            t.contract
        ),
        None => display_amount(intent.chain, &intent.asset, amount),
    }
}

/// An intent's fee for people (always in the chain's native asset).
pub fn display_fee(intent: &super::Intent) -> String {
    display_amount(intent.chain, intent.native_asset(), intent.fee)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_amounts_use_the_tokens_decimals_and_fees_the_native_asset() {
        let i = crate::chain::Intent {
            chain: Chain::Ethereum,
            network: crate::chain::Network::Testnet,
            from: "0xfrom".into(),
            asset: "TUSD".into(),
            transfers: vec![],
            amount: Amount(2_500_000),
            fee: Amount(21_000_000_000_000),
            details: Default::default(),
            token: Some(crate::chain::TokenRef {
                standard: crate::chain::TokenStandard::Erc20,
                contract: "0xC0ntract".into(),
                decimals: 6,
            }),
        };
        assert_eq!(
            display_intent_amount(&i, i.amount),
            "2.5 TUSD (2500000 base units of 0xC0ntract)"
        );
        assert_eq!(display_fee(&i), "0.000021 ETH (21000000000000 wei)");
    }

    #[test]
    fn parse_units_is_exact_and_strict() {
        assert_eq!(parse_units("0.01", 18).unwrap(), 10_000_000_000_000_000);
        assert_eq!(parse_units("1", 8).unwrap(), 100_000_000);
        assert_eq!(parse_units("0.00025", 8).unwrap(), 25_000);
        assert_eq!(parse_units("7", 0).unwrap(), 7);
        for bad in [
            "",
            ".5",
            "1.",
            "-1",
            "1e3",
            "0.000000001",
            "1,5",
            " 1",
            "0x10",
        ] {
            assert!(parse_units(bad, 8).is_err(), "{bad:?}");
        }
        assert!(parse_units(&"9".repeat(40), 0).is_err());
        for (a, d) in [(123_456_789u128, 8), (10u128.pow(18), 18), (1, 9)] {
            assert_eq!(parse_units(&format_units(a, d), d).unwrap(), a);
        }
    }

    #[test]
    fn format_units_table() {
        let cases: [(u128, u32, &str); 9] = [
            (0, 18, "0"),
            (1, 18, "0.000000000000000001"),
            (10_000_000_000_000_000, 18, "0.01"),
            (1_000_000_000_000_000_000, 18, "1"),
            (1_234_500_000_000_000_000_000, 18, "1234.5"),
            (25_000, 8, "0.00025"),
            (1_000_000, 9, "0.001"),
            (42, 0, "42"),
            (u128::MAX, 18, "340282366920938463463.374607431768211455"),
        ];
        for (amount, decimals, want) in cases {
            assert_eq!(
                format_units(amount, decimals),
                want,
                "{amount} / 10^{decimals}"
            );
        }
    }

    #[test]
    fn display_names_the_base_unit() {
        assert_eq!(
            display_amount(Chain::Ethereum, "ETH", Amount(10_000_000_000_000_000)),
            "0.01 ETH (10000000000000000 wei)"
        );
        assert_eq!(
            display_amount(Chain::BitcoinP2wpkh, "BTC", Amount(25_000)),
            "0.00025 BTC (25000 sat)"
        );
        assert_eq!(
            display_amount(Chain::Solana, "SOL", Amount(1_000_000)),
            "0.001 SOL (1000000 lamport)"
        );
    }
}
