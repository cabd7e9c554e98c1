//! The committee's aux-info attempts: a node's `aux_ready` / `aux_failed` reports.

use super::{ActionResult, CustodyState, RecordKey, ReportResult};
use crate::aux::MAX_AUX_REASON_CHARS;
use crate::ids::NodeId;
use crate::AuxRecord;

impl CustodyState {
    /// The committee's aux-info record.
    pub fn aux(&self) -> &AuxRecord {
        &self.aux
    }

    pub(super) fn report_aux_ready(&mut self, node: NodeId, attempt: u32) -> ReportResult {
        if !self.members().contains(&node) {
            return Err(format!("node {node} is not in the committee"));
        }
        if self.aux.complete || attempt != self.aux.attempt || !self.aux.ready.insert(node) {
            return Ok(None);
        }
        let mut text = format!("node {node} stored aux info (attempt {attempt})");
        if self.aux.ready.len() == self.members().len() {
            self.aux.complete = true;
            text = format!("aux info complete (attempt {attempt}): ECDSA presigning may start");
        }
        Ok(Some(self.aux_changed(text)))
    }

    pub(super) fn report_aux_failed(
        &mut self,
        node: NodeId,
        attempt: u32,
        reason: &str,
    ) -> ReportResult {
        if !self.members().contains(&node) {
            return Err(format!("node {node} is not in the committee"));
        }
        if self.aux.complete || attempt != self.aux.attempt {
            return Ok(None);
        }
        let reason: String = reason.chars().take(MAX_AUX_REASON_CHARS).collect();
        self.aux = AuxRecord {
            attempt: attempt.saturating_add(1),
            ready: Default::default(),
            complete: false,
            last_failure: Some(format!("attempt {attempt} failed on node {node}: {reason}")),
        };
        let text = format!(
            "aux info attempt {attempt} failed on node {node}; attempt {} starts",
            self.aux.attempt
        );
        Ok(Some(self.aux_changed(text)))
    }

    fn aux_changed(&mut self, text: String) -> (Option<crate::types::OrgId>, String, ActionResult) {
        self.dirty.insert(RecordKey::Aux);
        (
            None,
            text,
            ActionResult::Aux {
                aux: self.aux.clone(),
            },
        )
    }
}
