//! Sizes: the knobs a scenario exposes (how many nodes, how many client operations) so that
//! `shrink` can look for a smaller reproduction than the one a seed found, and `run`,
//! `replay` and `shrink` can pick other values with `--size NAME=VALUE`.

use std::fmt;

use crate::error::{Error, ErrorKind};

/// The most sizes one scenario may declare; kept small so [`Sizes`] stays a plain `Copy` value.
pub const SIZES_MAX: usize = 8;

/// One size a scenario declares: its name, its value when none is given, and the smallest
/// value at which the scenario still makes sense (`shrink` never goes below it).
///
/// ```
/// use seedsim::explore::Size;
/// const SIZES: &[Size] = &[Size::new("replicas", 3, 1), Size::new("ops", 20, 1)];
/// assert_eq!(SIZES[0].name(), "replicas");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    name: &'static str,
    default: u32,
    min: u32,
}

impl Size {
    /// A size called `name` (letters, digits, `-` and `_`), `default` unless given, never
    /// below `min`.
    pub const fn new(name: &'static str, default: u32, min: u32) -> Size {
        assert!(min <= default, "a size's default must not be below its minimum");
        Size { name, default, min }
    }

    /// The size's name, as `--size NAME=VALUE` spells it.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its value when none is given.
    pub fn default(&self) -> u32 {
        self.default
    }

    /// The smallest value it may take.
    pub fn min(&self) -> u32 {
        self.min
    }
}

/// The values of a scenario's sizes for one run, given to its setup function.
///
/// ```
/// use seedsim::explore::{Size, Sizes};
/// const SIZES: &[Size] = &[Size::new("replicas", 3, 1), Size::new("ops", 20, 1)];
/// let sizes = Sizes::defaults(SIZES).with("ops", 5).unwrap();
/// assert_eq!(sizes.get("ops").unwrap(), 5);
/// assert_eq!(sizes.get("replicas").unwrap(), 3);
/// assert!(sizes.get("clients").is_err()); // not declared
/// assert!(sizes.with("ops", 0).is_err()); // below its minimum
/// assert_eq!(sizes.to_string(), "replicas=3,ops=5");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    declared: &'static [Size],
    values: [u32; SIZES_MAX],
}

impl Sizes {
    /// Every declared size at its default.
    pub fn defaults(declared: &'static [Size]) -> Sizes {
        assert!(declared.len() <= SIZES_MAX, "a scenario declares at most {SIZES_MAX} sizes");
        let mut values = [0; SIZES_MAX];
        for (value, size) in values.iter_mut().zip(declared) {
            *value = size.default;
        }
        Sizes { declared, values }
    }

    /// The sizes the scenario declares.
    pub fn declared(&self) -> &'static [Size] {
        self.declared
    }

    fn index(&self, name: &str) -> Result<usize, Error> {
        self.declared.iter().position(|size| size.name == name).ok_or_else(|| self.invalid(name))
    }

    fn invalid(&self, input: &str) -> Error {
        let declared = if self.declared.is_empty() {
            "none (declare them with Scenario::sized)".to_owned()
        } else {
            let list: Vec<String> = self.declared.iter().map(|s| format!("{} (at least {})", s.name, s.min)).collect();
            list.join(", ")
        };
        Error::new(ErrorKind::InvalidSize { declared }, input)
    }

    /// The value of the size called `name`; an error if the scenario does not declare it.
    pub fn get(&self, name: &str) -> Result<u32, Error> {
        Ok(self.values[self.index(name)?])
    }

    /// The same sizes with `name` set to `value`; an error for an undeclared name or a value
    /// below the size's minimum.
    pub fn with(mut self, name: &str, value: u32) -> Result<Sizes, Error> {
        let index = self.index(name)?;
        if value < self.declared[index].min {
            return Err(self.invalid(&format!("{name}={value}")));
        }
        self.values[index] = value;
        Ok(self)
    }

    /// Apply `NAME=VALUE[,NAME=VALUE…]`, as `--size` takes it: each name once, no empty
    /// part.
    ///
    /// ```
    /// use seedsim::explore::{Size, Sizes};
    /// const SIZES: &[Size] = &[Size::new("clients", 3, 1), Size::new("ops", 8, 1)];
    /// let sizes = Sizes::defaults(SIZES);
    /// assert_eq!(sizes.parse_into("clients=2, ops=4").unwrap().get("ops").unwrap(), 4);
    /// for bad in ["", ",,,", "=3", "clients=3,clients=4", "clients=3,", "clients", "clients=x"] {
    ///     assert!(sizes.parse_into(bad).is_err(), "{bad:?}");
    /// }
    /// ```
    pub fn parse_into(mut self, text: &str) -> Result<Sizes, Error> {
        let mut seen: Vec<&str> = Vec::new();
        for part in text.split(',').map(str::trim) {
            let shown = if text.trim().is_empty() { "(empty)" } else { text };
            let (name, value) = part.split_once('=').ok_or_else(|| self.invalid(shown))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(self.invalid(part));
            }
            if seen.contains(&name) {
                return Err(self.invalid(&format!("{text} ({name} given twice)")));
            }
            seen.push(name);
            let value = value.trim().parse::<u32>().map_err(|_| self.invalid(part))?;
            self = self.with(name, value)?;
        }
        Ok(self)
    }

    /// Whether every size is at its default (the replay line then needs no `--size`).
    pub fn are_defaults(&self) -> bool {
        self.declared.iter().zip(self.values).all(|(size, value)| size.default == value)
    }

    /// The sum of the values: what `shrink` reports before and after.
    pub(crate) fn total(&self) -> u64 {
        self.values[..self.declared.len()].iter().map(|&v| u64::from(v)).sum()
    }

    pub(crate) fn value_at(&self, index: usize) -> u32 {
        self.values[index]
    }

    pub(crate) fn set_at(mut self, index: usize, value: u32) -> Sizes {
        debug_assert!(value >= self.declared[index].min);
        self.values[index] = value;
        self
    }
}

impl fmt::Display for Sizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, size) in self.declared.iter().enumerate() {
            let comma = if index == 0 { "" } else { "," };
            write!(f, "{comma}{}={}", size.name, self.values[index])?;
        }
        Ok(())
    }
}
