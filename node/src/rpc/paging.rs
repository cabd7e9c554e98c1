//! Paging for the list methods (issue 16): `limit` (1 to [`MAX_PAGE`], default [`MAX_PAGE`])
//! and an opaque `cursor` from the previous page's `next_cursor`, in a stable order — requests
//! in log order (a request made later always sorts after every earlier one, so paging while
//! requests are being added returns each exactly once), everything else by id. A result's
//! `next_cursor` is `null` on the last page.
//!
//! A cursor names the method it came from and the last key returned; it holds nothing secret
//! and nothing the reader could not read (changing it only moves where the page starts, and
//! every item is still filtered by what the reader may see).

use super::errors::RpcError;

/// Most items one call returns.
pub(super) const MAX_PAGE: usize = 500;
/// Longest cursor accepted (hex characters).
const MAX_CURSOR_CHARS: usize = 1024;

/// Declares the params of a read whose list form pages: the given fields (each
/// `#[serde(default)]`) plus `cursor` (the previous page's `next_cursor`) and `limit` (1 to
/// [`MAX_PAGE`]), unknown fields refused. A macro, because serde's `flatten` cannot be combined
/// with `deny_unknown_fields`.
macro_rules! paged_params {
    ($(#[$m:meta])* struct $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $name {
            $($(#[$fm])* #[serde(default)] $f: $t,)*
            /// Paging: the previous page's `next_cursor`.
            #[serde(default)]
            cursor: Option<String>,
            /// Paging: most items to return (1 to 500, default 500).
            #[serde(default)]
            limit: Option<u64>,
        }

        impl $name {
            /// The page these params ask for on `method`.
            fn page(&mut self, method: &'static str) -> Result<$crate::rpc::paging::Page, $crate::rpc::errors::RpcError> {
                $crate::rpc::paging::Page::new(method, self.cursor.take(), self.limit)
            }
        }
    };
}
pub(super) use paged_params;

/// Where a page starts and how long it is.
#[derive(Debug, Clone)]
pub(super) struct Page {
    method: &'static str,
    after: Option<String>,
    limit: usize,
}

impl Page {
    /// The page asked for with `cursor` and `limit` on `method`, or why they are wrong.
    pub(super) fn new(
        method: &'static str,
        cursor: Option<String>,
        limit: Option<u64>,
    ) -> Result<Page, RpcError> {
        let limit = match limit {
            None => MAX_PAGE,
            Some(n) if (1..=MAX_PAGE as u64).contains(&n) => n as usize,
            Some(n) => {
                return Err(RpcError::InvalidParams(format!(
                    "limit {n}: a page holds 1 to {MAX_PAGE} items"
                )))
            }
        };
        let after = cursor
            .filter(|c| !c.is_empty())
            .map(|c| decode(method, &c))
            .transpose()?;
        Ok(Page {
            method,
            after,
            limit,
        })
    }

    /// This page of `items` (in any order; sorted here by their keys, which must be unique)
    /// and the cursor of the next page (`None` when nothing follows).
    pub(super) fn take<T>(&self, mut items: Vec<(String, T)>) -> (Vec<T>, Option<String>) {
        items.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let start = self
            .after
            .as_ref()
            .map_or(0, |a| items.partition_point(|(k, _)| k <= a));
        let more = items.len().saturating_sub(start) > self.limit;
        let page: Vec<(String, T)> = items.into_iter().skip(start).take(self.limit).collect();
        let next = more
            .then(|| page.last().map(|(k, _)| encode(self.method, k)))
            .flatten();
        (page.into_iter().map(|(_, t)| t).collect(), next)
    }
}

/// The paging key of an id made of `prefix` and a log index (`prop-17`): the number
/// zero-padded, so that text order is log order; any other id as it is.
pub(super) fn numbered_key(id: &str, prefix: &str) -> String {
    match id.strip_prefix(prefix).and_then(|n| n.parse::<u64>().ok()) {
        Some(n) => format!("{n:020}"),
        None => id.to_string(),
    }
}

/// A request's paging key: its log position, zero-padded so that text order is log order.
pub(super) fn request_key(request_id: &str) -> String {
    format!("{:020}", mpc_custody::state::log_position(request_id))
}

fn encode(method: &str, key: &str) -> String {
    hex::encode(format!("{method}\n{key}"))
}

fn decode(method: &str, cursor: &str) -> Result<String, RpcError> {
    let bad = || {
        RpcError::InvalidParams(format!(
            "cursor is not one {method} returned; start again without a cursor"
        ))
    };
    if cursor.len() > MAX_CURSOR_CHARS {
        return Err(bad());
    }
    let bytes = hex::decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    match text.split_once('\n') {
        Some((m, key)) if m == method => Ok(key.to_string()),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeSet;

    /// Pages through `all()` with `limit`, calling `grow` between pages; the ids seen in order.
    fn walk(
        limit: u64,
        mut all: impl FnMut() -> Vec<String>,
        mut grow: impl FnMut(usize),
    ) -> Vec<String> {
        let mut cursor = None;
        let mut seen = Vec::new();
        for round in 0..1000 {
            let page = Page::new("request_list", cursor.take(), Some(limit)).unwrap();
            let items = all().into_iter().map(|id| (request_key(&id), id)).collect();
            let (ids, next) = page.take(items);
            assert!(ids.len() <= limit as usize);
            seen.extend(ids);
            match next {
                Some(n) => cursor = Some(n),
                None => return seen,
            }
            grow(round);
        }
        panic!("paging did not end");
    }

    /// Every request exactly once, in log order, while requests are being added between
    /// pages — some of them several to a log entry (`req-<index>-<item>`).
    #[test]
    fn paging_returns_every_request_once_while_requests_are_added() {
        let ids = std::cell::RefCell::new(
            (1..=23u64)
                .map(|i| format!("req-{}", i * 3))
                .collect::<Vec<_>>(),
        );
        let mut next_index = 100u64;
        let seen = walk(
            5,
            || ids.borrow().clone(),
            |round| {
                // New entries: a lone request, or a batch of three.
                let mut v = ids.borrow_mut();
                if round % 2 == 0 {
                    v.push(format!("req-{next_index}"));
                } else {
                    v.push(format!("req-{next_index}"));
                    v.push(format!("req-{next_index}-1"));
                    v.push(format!("req-{next_index}-2"));
                }
                next_index += 7;
            },
        );
        let all = ids.borrow().clone();
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "a request twice: {seen:?}");
        assert_eq!(unique, all.iter().collect(), "a request missed");
        let positions: Vec<u64> = seen
            .iter()
            .map(|id| mpc_custody::state::log_position(id))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        // (Text order would put req-100 before req-99: the key is the log position.)
        assert!(request_key("req-99") < request_key("req-100"));
        assert!(request_key("req-100") < request_key("req-100-1"));
        assert!(request_key("req-100-2") < request_key("req-101"));
    }

    #[test]
    fn limits_and_cursors_are_checked() {
        assert!(Page::new("request_list", None, Some(0)).is_err());
        assert!(Page::new("request_list", None, Some(MAX_PAGE as u64 + 1)).is_err());
        assert_eq!(
            Page::new("request_list", None, None).unwrap().limit,
            MAX_PAGE
        );
        let items = || (0..10).map(|i| (format!("k{i}"), i)).collect::<Vec<_>>();
        let (first, next) = Page::new("vault_list", None, Some(4))
            .unwrap()
            .take(items());
        assert_eq!(first, [0, 1, 2, 3]);
        let next = next.unwrap();
        // Another method's cursor, a garbled one and an oversized one are refused clearly.
        for bad in [
            next.clone()
                .replace(&hex::encode("vault_list"), &hex::encode("org_list")),
            "zz".to_string(),
            "ab".repeat(MAX_CURSOR_CHARS),
        ] {
            let e = Page::new("vault_list", Some(bad), Some(4)).unwrap_err();
            assert!(
                format!("{e:?}").contains("start again without a cursor"),
                "{e:?}"
            );
        }
        let (second, next) = Page::new("vault_list", Some(next), Some(4))
            .unwrap()
            .take(items());
        assert_eq!(second, [4, 5, 6, 7]);
        let (last, end) = Page::new("vault_list", next, Some(4))
            .unwrap()
            .take(items());
        assert_eq!(last, [8, 9]);
        assert!(end.is_none(), "the last page has no next cursor");
        // Exactly a page left: no empty page after it.
        let (_, end) = Page::new("vault_list", None, Some(10))
            .unwrap()
            .take(items());
        assert!(end.is_none());
    }
}
