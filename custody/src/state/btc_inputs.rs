//! Bitcoin P2WPKH inputs: every signature this network makes for an output it spends commits
//! to one amount for that output (decision 0016).
//!
//! A P2WPKH (BIP-143) signature commits only to its *own* input's amount. The amounts of a
//! spend come from the client, so a transaction's fee (inputs − outputs) is only as true as
//! those claims: a wrong claim makes that input's signature invalid, but two signing sessions
//! of the same inputs with different wrong claims each yield one valid input signature, and
//! together a transaction whose real fee nobody approved (the "segwit fee attack"). Here the
//! first request that reserves a spend of an output fixes its amount; a request that claims
//! another amount for it is rejected, and a signer contributes only when its own state holds
//! the same amounts for every input. So every input signature ever made carries the same amount,
//! and a transaction assembled from them is either invalid or has the fee the approvers saw.
//! (P2TR signatures commit to every input's amount, BIP-341.)

use super::requests::payload_bytes;
use super::{CustodyState, RecordKey};
use crate::request::InputClaim;
use crate::Request;
use mpc_protocol::chain::{btc, Amount, Chain};

impl CustodyState {
    /// (outpoint, claimed amount) of each input of a P2WPKH request; empty for other chains.
    fn claimed_inputs(req: &Request) -> Result<Vec<(String, Amount)>, String> {
        if req.intent.chain != Chain::BitcoinP2wpkh {
            return Ok(Vec::new());
        }
        let outpoints =
            btc::spent_outpoints(&payload_bytes(&req.payload)?).map_err(|e| e.to_string())?;
        if outpoints.len() != req.extras.spent_outputs.len() {
            return Err("spent outputs do not match the inputs".into());
        }
        Ok(outpoints
            .into_iter()
            .zip(req.extras.spent_outputs.iter().map(|s| s.amount))
            .collect())
    }

    /// Why `req` claims another amount for an input than earlier signatures committed to.
    pub(super) fn input_conflict(&self, req: &Request) -> Option<String> {
        let claims = match Self::claimed_inputs(req) {
            Ok(c) => c,
            Err(e) => return Some(e),
        };
        claims.into_iter().find_map(|(op, amount)| {
            self.btc_inputs
                .get(&op)
                .filter(|c| c.amount != amount)
                .map(|c| {
                    format!(
                        "input {op} was reserved by {} as {} sat, this request claims {} sat: \
                         signatures over different amounts could combine into a transaction \
                         whose fee nobody approved",
                        c.request_id, c.amount, amount
                    )
                })
        })
    }

    /// Fixes the amounts of `req`'s inputs (the first reservation of an output wins).
    pub(super) fn commit_inputs(&mut self, req: &Request) {
        for (op, amount) in Self::claimed_inputs(req).unwrap_or_default() {
            if !self.btc_inputs.contains_key(&op) {
                self.dirty.insert(RecordKey::BtcInput(op.clone()));
                self.btc_inputs.insert(
                    op.clone(),
                    InputClaim {
                        outpoint: op,
                        amount,
                        request_id: req.request_id.clone(),
                    },
                );
            }
        }
    }

    /// The signer's check: every input's amount is the one fixed for it.
    pub(super) fn inputs_committed(&self, req: &Request) -> Result<(), String> {
        for (op, amount) in Self::claimed_inputs(req)? {
            match self.btc_inputs.get(&op) {
                Some(c) if c.amount == amount => {}
                Some(c) => {
                    return Err(format!(
                        "input {op} is fixed at {} sat, the request claims {amount}",
                        c.amount
                    ))
                }
                None => return Err(format!("input {op} was never reserved")),
            }
        }
        Ok(())
    }
}
