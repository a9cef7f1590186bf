//! The seed: the one `u64` from which everything that varies in a run is derived.
//!
//! Seeds print as `0x` and 16 hex digits everywhere (reports, replay lines, trace headers) and
//! parse from that form or from decimal.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};

/// The seed of one run.
///
/// ```
/// use seedsim::Seed;
/// let seed: Seed = "0x2a".parse()?;
/// assert_eq!(seed, Seed(42));
/// assert_eq!(seed.to_string(), "0x000000000000002a");
/// assert_eq!(format!("{seed:?}"), "Seed(0x000000000000002a)");
/// assert_eq!("42".parse::<Seed>()?, seed);
/// # Ok::<(), seedsim::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Seed(pub u64);

/// In hex as the reports print it, so a seed in a debug message can be pasted into
/// `SEEDSIM_SEED`.
impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seed({self})")
    }
}

impl Seed {
    /// The `index`-th seed of a sweep that starts at `self`: well spread over the `u64` space
    /// (so neighbouring sweeps do not share seeds) and the same on every platform.
    ///
    /// ```
    /// use seedsim::Seed;
    /// let base = Seed(7);
    /// assert_ne!(base.nth(0), base.nth(1));
    /// assert_eq!(base.nth(3), Seed(7).nth(3));
    /// ```
    pub fn nth(self, index: u64) -> Seed {
        Seed(splitmix64(self.0.wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15))))
    }
}

/// SplitMix64's output function: a fixed bijection on `u64` with good mixing.
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:016x}", self.0)
    }
}

impl FromStr for Seed {
    type Err = Error;

    fn from_str(text: &str) -> Result<Seed, Error> {
        let invalid = || Error::new(ErrorKind::InvalidSeed, text);
        let trimmed = text.trim();
        let value = if let Some(hex) = trimmed.strip_prefix("0x").or_else(|| trimmed.strip_prefix("0X")) {
            if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid());
            }
            u64::from_str_radix(hex, 16).map_err(|_| invalid())?
        } else {
            if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            trimmed.parse::<u64>().map_err(|_| invalid())?
        };
        Ok(Seed(value))
    }
}

impl From<u64> for Seed {
    fn from(value: u64) -> Seed {
        Seed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_rejects_the_rest() {
        assert_eq!("0xffffffffffffffff".parse::<Seed>().unwrap(), Seed(u64::MAX));
        assert_eq!("18446744073709551615".parse::<Seed>().unwrap(), Seed(u64::MAX));
        for bad in ["", "0x", "0x1ffffffffffffffff", "-1", "12a", "0xg", "18446744073709551616", "1 2"] {
            let err = bad.parse::<Seed>().unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::InvalidSeed, "{bad:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        for value in [0, 1, 0xdead_beef, u64::MAX] {
            let seed = Seed(value);
            assert_eq!(seed.to_string().len(), 18);
            assert_eq!(seed.to_string().parse::<Seed>().unwrap(), seed);
        }
    }
}
