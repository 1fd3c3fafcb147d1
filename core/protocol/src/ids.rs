//! Resource ids: a type prefix and a lowercase ULID (`ag_01hzxk…`), sortable by time.

use crate::error::{Error, Result};

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Fills `buf` with OS randomness.
pub fn random_bytes(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random source failed");
}

/// A new lowercase ULID: 48 bits of milliseconds, 80 random bits, 26 characters.
/// Monotonic within the process: an id minted in the same millisecond as the one
/// before (or after the clock stepped back) is that one plus one, so ids sort in the
/// order they were minted and a list's cursor never skips a newer item.
pub fn ulid() -> String {
    static LAST: std::sync::Mutex<u128> = std::sync::Mutex::new(0);
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut rnd = [0u8; 10];
    random_bytes(&mut rnd);
    let mut value: u128 = (ms & 0xFFFF_FFFF_FFFF) << 80;
    for (i, b) in rnd.iter().enumerate() {
        value |= (*b as u128) << (8 * (9 - i));
    }
    {
        let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        if value >> 80 <= *last >> 80 {
            value = last.wrapping_add(1);
        }
        *last = value;
    }
    let mut out = [0u8; 26];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (25 - i);
        *slot = CROCKFORD[((value >> shift) & 0x1F) as usize];
    }
    String::from_utf8(out.to_vec()).expect("ascii")
}

/// A new id with `prefix` (without the underscore), e.g. `new_id("ag")`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", ulid())
}

/// Checks that `id` has the form `<prefix>_<26 crockford chars>`; the error names `field`.
pub fn check_id(field: &str, prefix: &str, id: &str) -> Result<()> {
    let ok = id
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|rest| rest.len() == 26 && rest.bytes().all(|b| CROCKFORD.contains(&b)));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{field} must be an id of the form {prefix}_<26 lowercase base32 characters>"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_unique_and_checkable() {
        let a = new_id("ag");
        let b = new_id("ag");
        assert_ne!(a, b);
        assert!(a.starts_with("ag_") && a.len() == 29);
        check_id("agent_id", "ag", &a).unwrap();
        let err = check_id("agent_id", "ag", "run_x").unwrap_err();
        assert_eq!(err.field(), Some("agent_id"));
        assert!(check_id("agent_id", "ag", &a.to_uppercase()).is_err());
    }

    #[test]
    fn ulids_minted_in_one_millisecond_sort_in_minting_order() {
        let ids: Vec<String> = (0..1000).map(|_| ulid()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
    }

    #[test]
    fn ulids_sort_by_time() {
        let a = ulid();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ulid();
        assert!(a < b);
    }
}
