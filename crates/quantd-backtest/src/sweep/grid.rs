//! Parameter grids: one [`ParamRange`] per parameter (parsed from `fast=5..50:5`), their
//! cartesian product as a [`ParamGrid`] enumerated by index without materializing it, and the
//! [`ParamSet`] view a signal generator and a constraint read.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{BacktestError, Result};

/// The most values one parameter may take.
pub const MAX_VALUES: usize = 1_000_000;

const SYNTAX: &str = "write `name=start..end:step` (inclusive, e.g. `fast=5..50:5`), \
                      `name=start..end` (step 1), `name=v1,v2,...` or `name=v`";

/// One named parameter and the values a sweep tries, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamRange {
    name: String,
    values: Vec<f64>,
}

impl ParamRange {
    /// A parameter with explicit values: the name must be an identifier (`[A-Za-z_][A-Za-z0-9_]*`),
    /// the values finite, distinct and at least one.
    pub fn new(name: impl Into<String>, values: Vec<f64>) -> Result<Self> {
        let name = name.into();
        check_name(&name, &name)?;
        if values.is_empty() {
            return Err(BacktestError::grid(&name, "it has no values"));
        }
        if values.len() > MAX_VALUES {
            return Err(BacktestError::grid(
                &name,
                format!(
                    "it has {} values; at most {MAX_VALUES} are allowed",
                    values.len()
                ),
            ));
        }
        if let Some(v) = values.iter().find(|v| !v.is_finite()) {
            return Err(BacktestError::grid(
                &name,
                format!("value {v} is not a finite number"),
            ));
        }
        // Sorted copy: one pass finds a repeat (a list of a million values stays fast).
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(BacktestError::grid(
                &name,
                format!("value {} is listed twice", w[0]),
            ));
        }
        Ok(ParamRange { name, values })
    }

    /// Parses `name=start..end:step` (inclusive of `end` when the steps reach it), `name=start..end`
    /// (step 1), `name=v1,v2,...` or `name=v`. Values keep the decimals they are written with:
    /// `x=0.1..0.3:0.1` is `0.1, 0.2, 0.3`, not `0.30000000000000004`.
    pub fn parse(spec: &str) -> Result<Self> {
        let spec = spec.trim();
        let Some((name, rhs)) = spec.split_once('=') else {
            return Err(BacktestError::grid(
                spec,
                format!("no `=` between name and values; {SYNTAX}"),
            ));
        };
        let (name, rhs) = (name.trim(), rhs.trim());
        check_name(name, spec)?;
        if rhs.is_empty() {
            return Err(BacktestError::grid(
                spec,
                format!("no values after `=`; {SYNTAX}"),
            ));
        }
        let values = if let Some((start, rest)) = rhs.split_once("..") {
            let (end, step) = match rest.split_once(':') {
                Some((end, step)) => (end, Some(step)),
                None => (rest, None),
            };
            let start_v = number(spec, "start", start)?;
            let end_v = number(spec, "end", end)?;
            let step_v = match step {
                Some(s) => number(spec, "step", s)?,
                None => 1.0,
            };
            if step_v <= 0.0 {
                return Err(BacktestError::grid(
                    spec,
                    format!("step {step_v} must be greater than 0"),
                ));
            }
            if end_v < start_v {
                return Err(BacktestError::grid(
                    spec,
                    format!("end {end_v} is below start {start_v}; ranges go upwards"),
                ));
            }
            let count = ((end_v - start_v) / step_v + 1e-9).floor() + 1.0;
            if count > MAX_VALUES as f64 {
                return Err(BacktestError::grid(
                    spec,
                    format!(
                        "it has {count} values; at most {MAX_VALUES} are allowed (use a larger step)"
                    ),
                ));
            }
            let decimals = [start, step.unwrap_or("1")]
                .iter()
                .map(|s| decimals(s))
                .max();
            let scale = decimals.flatten().map(|d| 10f64.powi(d as i32));
            (0..count as usize)
                .map(|k| {
                    let v = start_v + k as f64 * step_v;
                    match scale {
                        Some(s) => (v * s).round() / s,
                        None => v,
                    }
                })
                .collect()
        } else {
            rhs.split(',')
                .map(|v| number(spec, "value", v))
                .collect::<Result<Vec<_>>>()?
        };
        ParamRange::new(name, values).map_err(|e| match e {
            BacktestError::Grid { reason, .. } => BacktestError::grid(spec, reason),
            other => other,
        })
    }

    /// The parameter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its values, in order.
    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

impl FromStr for ParamRange {
    type Err = BacktestError;

    fn from_str(s: &str) -> Result<Self> {
        ParamRange::parse(s)
    }
}

fn check_name(name: &str, spec: &str) -> Result<()> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(BacktestError::grid(
            spec,
            format!(
                "`{name}` is not a parameter name: use letters, digits and `_`, starting with a letter or `_`"
            ),
        ))
    }
}

fn number(spec: &str, what: &str, text: &str) -> Result<f64> {
    let text = text.trim();
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(BacktestError::grid(
            spec,
            format!("{what} `{text}` is not a number; {SYNTAX}"),
        )),
    }
}

/// Digits after the decimal point as written, `None` for exponent notation.
fn decimals(text: &str) -> Option<usize> {
    let text = text.trim();
    if text.contains(['e', 'E']) {
        return None;
    }
    Some(text.split_once('.').map_or(0, |(_, frac)| frac.len()))
}

/// The cartesian product of parameter ranges, in `itertools.product` order (the last parameter
/// varies fastest), addressed by index so no sweep ever holds the whole grid.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGrid {
    names: Vec<String>,
    values: Vec<Vec<f64>>,
    len: u64,
}

impl ParamGrid {
    /// The product of `ranges` (distinct names; no ranges: one empty parameter set).
    pub fn new(ranges: Vec<ParamRange>) -> Result<Self> {
        let mut len: u64 = 1;
        for (i, r) in ranges.iter().enumerate() {
            if ranges[..i].iter().any(|o| o.name == r.name) {
                return Err(BacktestError::grid(&r.name, "the parameter is given twice"));
            }
            len = len.checked_mul(r.values.len() as u64).ok_or_else(|| {
                BacktestError::grid(&r.name, "the grid has more than 2^64 parameter sets")
            })?;
        }
        Ok(ParamGrid {
            names: ranges.iter().map(|r| r.name.clone()).collect(),
            values: ranges.into_iter().map(|r| r.values).collect(),
            len,
        })
    }

    /// Parses one `name=...` specification per parameter (see [`ParamRange::parse`]).
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<Self> {
        let ranges = specs
            .iter()
            .map(|s| ParamRange::parse(s.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        ParamGrid::new(ranges)
    }

    /// Parameter names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The values of parameter `i`.
    pub fn values(&self, i: usize) -> &[f64] {
        &self.values[i]
    }

    /// The number of parameter sets before any constraint.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Never `true`: a grid has at least one parameter set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the values of parameter set `index` (< [`ParamGrid::len`]) into `out`.
    pub fn values_at(&self, index: u64, out: &mut Vec<f64>) {
        debug_assert!(index < self.len);
        out.clear();
        out.resize(self.values.len(), 0.0);
        let mut rest = index;
        for (slot, values) in out.iter_mut().zip(&self.values).rev() {
            let k = values.len() as u64;
            *slot = values[(rest % k) as usize];
            rest /= k;
        }
    }

    /// A view of `values` (one per parameter) with this grid's names.
    ///
    /// # Panics
    /// If `values` does not have one value per parameter.
    pub fn param_set<'g>(&'g self, values: &'g [f64]) -> ParamSet<'g> {
        assert_eq!(values.len(), self.names.len(), "one value per parameter");
        ParamSet {
            names: &self.names,
            values,
        }
    }

    /// Every parameter set, in order (each as its values).
    pub fn iter(&self) -> impl Iterator<Item = Vec<f64>> + '_ {
        (0..self.len).map(move |i| {
            let mut v = Vec::new();
            self.values_at(i, &mut v);
            v
        })
    }

    /// The number of parameter sets `constraint` accepts (all without one); evaluates it once
    /// per set, holding nothing.
    pub fn count(&self, constraint: Option<&Constraint<'_>>) -> u64 {
        let Some(c) = constraint else { return self.len };
        let mut buf = Vec::new();
        (0..self.len)
            .filter(|&i| {
                self.values_at(i, &mut buf);
                c(&self.param_set(&buf))
            })
            .count() as u64
    }
}

/// A predicate on parameter sets, e.g. `fast < slow`; sets it rejects are not backtested.
pub type Constraint<'a> = dyn Fn(&ParamSet<'_>) -> bool + Sync + 'a;

/// One parameter set: names and values, borrowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamSet<'a> {
    names: &'a [String],
    values: &'a [f64],
}

impl<'a> ParamSet<'a> {
    /// A parameter set of these names and values.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn new(names: &'a [String], values: &'a [f64]) -> Self {
        assert_eq!(names.len(), values.len(), "one value per name");
        ParamSet { names, values }
    }

    /// Parameter names.
    pub fn names(&self) -> &'a [String] {
        self.names
    }

    /// Values, in the names' order.
    pub fn values(&self) -> &'a [f64] {
        self.values
    }

    /// The value of `name`, if there is such a parameter.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| self.values[i])
    }

    /// The value of `name`, or [`BacktestError::Param`] if there is no such parameter.
    pub fn value(&self, name: &str) -> Result<f64> {
        self.get(name).ok_or_else(|| BacktestError::Param {
            name: name.to_string(),
            reason: format!(
                "no such parameter in the grid (it has: {})",
                if self.names.is_empty() {
                    "none".to_string()
                } else {
                    self.names.join(", ")
                }
            ),
        })
    }

    /// The value of `name` as a count or period: [`BacktestError::Param`] unless it is a whole number
    /// ≥ `min`.
    pub fn usize(&self, name: &str, min: usize) -> Result<usize> {
        let v = self.value(name)?;
        if v.fract() != 0.0 || v < min as f64 || v > u32::MAX as f64 {
            return Err(BacktestError::Param {
                name: name.to_string(),
                reason: format!("value {v} must be a whole number of at least {min}"),
            });
        }
        Ok(v as usize)
    }

    /// `(name, value)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.values.iter().copied())
    }

    /// As a map, e.g. for an expression's parameters.
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        self.iter().map(|(n, v)| (n.to_string(), v)).collect()
    }
}

impl fmt::Display for ParamSet<'_> {
    /// `fast=10, slow=20` (`(no parameters)` for none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.names.is_empty() {
            return f.write_str("(no parameters)");
        }
        for (i, (n, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(spec: &str) -> Vec<f64> {
        ParamRange::parse(spec).unwrap().values().to_vec()
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(
            values("fast=5..50:5"),
            [5., 10., 15., 20., 25., 30., 35., 40., 45., 50.]
        );
        assert_eq!(values("slow = 20..200:20").len(), 10);
        assert_eq!(values("n=1..4"), [1., 2., 3., 4.]);
        assert_eq!(values("n=1..10:4"), [1., 5., 9.]);
        assert_eq!(values("x=0.1..0.3:0.1"), [0.1, 0.2, 0.3]);
        assert_eq!(values("k=2"), [2.]);
        assert_eq!(values("k=3,1.5, 7"), [3., 1.5, 7.]);
        assert_eq!(values("k=-2..2:2"), [-2., 0., 2.]);
    }

    #[test]
    fn range_errors_say_what_and_how() {
        let err = |s: &str| ParamRange::parse(s).unwrap_err().to_string();
        assert_eq!(
            err("fast"),
            "parameter `fast`: no `=` between name and values; write `name=start..end:step` \
             (inclusive, e.g. `fast=5..50:5`), `name=start..end` (step 1), `name=v1,v2,...` or `name=v`"
        );
        assert!(
            err("fast=5..x:5").starts_with("parameter `fast=5..x:5`: end `x` is not a number;")
        );
        assert_eq!(
            err("fast=5..50:0"),
            "parameter `fast=5..50:0`: step 0 must be greater than 0"
        );
        assert_eq!(
            err("fast=50..5:5"),
            "parameter `fast=50..5:5`: end 5 is below start 50; ranges go upwards"
        );
        assert!(err("1x=1").contains("`1x` is not a parameter name"));
        assert_eq!(err("k=1,1"), "parameter `k=1,1`: value 1 is listed twice");
        assert!(err("k=0..1e9:0.5").contains("at most 1000000 are allowed"));
        assert_eq!(
            ParamGrid::parse(&["a=1", "a=2"]).unwrap_err().to_string(),
            "parameter `a`: the parameter is given twice"
        );
    }

    #[test]
    fn grid_enumerates_in_product_order() {
        let grid = ParamGrid::parse(&["a=1..2", "b=10,20,30"]).unwrap();
        assert_eq!(grid.len(), 6);
        let all: Vec<Vec<f64>> = grid.iter().collect();
        assert_eq!(all[0], [1., 10.]);
        assert_eq!(all[1], [1., 20.]);
        assert_eq!(all[3], [2., 10.]);
        assert_eq!(all[5], [2., 30.]);
        let fast_lt_slow = |p: &ParamSet<'_>| p.get("a").unwrap() * 15.0 < p.get("b").unwrap();
        assert_eq!(grid.count(Some(&fast_lt_slow)), 2); // (1, 20), (1, 30)
        let set = grid.param_set(&all[4]);
        assert_eq!(set.to_string(), "a=2, b=20");
        assert_eq!(set.usize("b", 1).unwrap(), 20);
        assert!(
            set.value("c")
                .unwrap_err()
                .to_string()
                .contains("it has: a, b")
        );
        let empty = ParamGrid::new(vec![]).unwrap();
        assert_eq!(empty.len(), 1);
        assert_eq!(empty.iter().next().unwrap(), Vec::<f64>::new());
    }
}
