//! The strict grammar of a cron pattern's five fields, checked before the evaluator
//! (`croner`) sees the text.
//!
//! Why our own check: `croner` accepts patterns whose fields select nothing (an empty
//! list item, as in `, * * * *`) and then searches minute by minute up to the year
//! 5000 for a tick that cannot exist — seconds of CPU on a request thread. Here every
//! field must select at least one value, and the day fields must name a day that
//! some selected month has, so the evaluator only ever sees patterns that match
//! within a few years (see [`CronFields::can_match`]).
//!
//! ```text
//! field  := item (',' item)*                    at most MAX_ITEMS items
//! item   := base ('/' step)?                    step only after `*` or a range
//!         | dom-special | dow-special
//! base   := '*' | '?' (day fields only) | value | value '-' value (low <= high)
//! value  := 1-2 digits, or a name (JAN…DEC, SUN…SAT), within the field's bounds
//! step   := 1-2 digits, 1..=the field's largest value
//! dom-special := 'L' | 'LW' | day 'W'
//! dow-special := weekday 'L' | weekday '#' 1..=5
//! ```

use crate::error::quote;

/// Most items accepted in one field: a field has at most 60 distinct values, so a
/// longer list can only repeat itself.
pub const MAX_ITEMS: usize = 60;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Longest month of each number (February counts its leap day).
const LONGEST_MONTH: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// The five fields in order, with their bounds and names.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

impl Field {
    const ALL: [Field; 5] = [
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        }
    }

    /// Smallest and largest value (day of week 7 is Sunday again, as in Vixie cron).
    fn bounds(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 7),
        }
    }

    /// Names accepted for values, the first naming value `offset`.
    fn names(self) -> Option<(&'static [&'static str], u32)> {
        match self {
            Field::Month => Some((&MONTHS, 1)),
            Field::DayOfWeek => Some((&WEEKDAYS, 0)),
            _ => None,
        }
    }

    fn is_day(self) -> bool {
        matches!(self, Field::DayOfMonth | Field::DayOfWeek)
    }
}

/// What the day fields of a valid pattern select, enough to tell whether any day
/// can ever match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronFields {
    /// Bit `m` set: month `m` (1-12) is selected.
    months: u16,
    /// Bit `d` set: day `d` of the month is named, plainly or as `dW`.
    month_days: u32,
    /// `L` or `LW`: the last (week)day of the month, which every month has.
    last_day: bool,
    /// The day-of-month field is `*` or `?`.
    any_month_day: bool,
    /// The day-of-week field is `*` or `?`.
    any_weekday: bool,
}

impl CronFields {
    /// Checks the five fields of `pattern` (no zone prefix). A nickname like `@daily`
    /// is checked as the fields it stands for. Errors are plain reasons.
    pub fn parse(pattern: &str) -> Result<CronFields, String> {
        let pattern = expand_nickname(pattern)?;
        let parts: Vec<&str> = pattern.split_ascii_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!("it has {} fields, not 5", parts.len()));
        }
        let mut fields = CronFields {
            months: 0,
            month_days: 0,
            last_day: false,
            any_month_day: false,
            any_weekday: false,
        };
        for (field, text) in Field::ALL.into_iter().zip(parts) {
            let selected = parse_field(field, text, &mut fields)?;
            match field {
                Field::Month => fields.months = selected as u16,
                Field::DayOfMonth => fields.month_days |= selected as u32,
                _ => {}
            }
        }
        Ok(fields)
    }

    /// Whether some day can ever match. A restricted day of week always can (every
    /// weekday, even the fifth of a month, occurs in every month some year); with
    /// both day fields restricted either is enough (Vixie cron). So only a day of
    /// month alone can fail: when no selected month is long enough for its days.
    pub fn can_match(&self) -> bool {
        if self.any_month_day || !self.any_weekday || self.last_day {
            return true;
        }
        (1..=12u32).any(|month| {
            let longest = LONGEST_MONTH[month as usize - 1];
            self.has_month(month) && (1..=longest).any(|day| self.month_days & (1 << day) != 0)
        })
    }

    /// Whether month `month` (1-12) is selected.
    pub fn has_month(&self, month: u32) -> bool {
        month <= 12 && self.months & (1 << month) != 0
    }
}

fn expand_nickname(pattern: &str) -> Result<&str, String> {
    if !pattern.starts_with('@') {
        return Ok(pattern);
    }
    let is = |name: &str| pattern.eq_ignore_ascii_case(name);
    Ok(if is("@yearly") || is("@annually") {
        "0 0 1 1 *"
    } else if is("@monthly") {
        "0 0 1 * *"
    } else if is("@weekly") {
        "0 0 * * 0"
    } else if is("@daily") {
        "0 0 * * *"
    } else if is("@hourly") {
        "0 * * * *"
    } else {
        return Err(
            "unknown nickname; use @yearly, @annually, @monthly, @weekly, @daily or @hourly".into(),
        );
    })
}

/// Checks one field; returns the bit set of the plain values it selects (bit `v` for
/// value `v`) and records day-field details in `fields`.
fn parse_field(field: Field, text: &str, fields: &mut CronFields) -> Result<u64, String> {
    let fail = |reason: String| format!("{} field {}: {reason}", field.name(), quote(text));
    if field.is_day() && (text == "*" || text == "?") {
        match field {
            Field::DayOfMonth => fields.any_month_day = true,
            _ => fields.any_weekday = true,
        }
    }
    let items: Vec<&str> = text.split(',').collect();
    if items.len() > MAX_ITEMS {
        return Err(fail(format!("more than {MAX_ITEMS} list items")));
    }
    let mut selected = 0u64;
    for item in items {
        if item.is_empty() {
            return Err(fail(
                "an empty list item (two commas, or a comma at an end)".into(),
            ));
        }
        selected |= parse_item(field, item, fields).map_err(&fail)?;
    }
    Ok(selected)
}

fn parse_item(field: Field, item: &str, fields: &mut CronFields) -> Result<u64, String> {
    let upper = item.to_ascii_uppercase();
    if let Some(special) = day_special(field, &upper, fields)? {
        return Ok(special);
    }
    let (base, step) = match upper.split_once('/') {
        Some((base, step)) => (base, Some(parse_step(field, step)?)),
        None => (upper.as_str(), None),
    };
    let (min, max) = field.bounds();
    let (low, high) = if base == "*" || (base == "?" && field.is_day()) {
        if base == "?" && step.is_some() {
            return Err("`?` takes no step".into());
        }
        (min, max)
    } else if let Some((low, high)) = base.split_once('-') {
        let (low, high) = (value(field, low)?, value(field, high)?);
        if low > high {
            return Err(format!("the range {low}-{high} runs backwards"));
        }
        (low, high)
    } else {
        if step.is_some() {
            return Err(format!(
                "a step needs `*` or a range before it, like \"*/{0}\" or \"{1}-{max}/{0}\"",
                step.unwrap_or(1),
                min
            ));
        }
        let v = value(field, base)?;
        (v, v)
    };
    let step = step.unwrap_or(1) as usize;
    Ok((low..=high).step_by(step).fold(0, |bits, v| bits | 1 << v))
}

/// `L`, `LW`, `dW` in the day of month; `dL` and `d#n` in the day of week.
fn day_special(field: Field, item: &str, fields: &mut CronFields) -> Result<Option<u64>, String> {
    match field {
        Field::DayOfMonth if item == "L" || item == "LW" => {
            fields.last_day = true;
            Ok(Some(0))
        }
        Field::DayOfMonth if item.len() > 1 && item.ends_with('W') => {
            let day = value(field, &item[..item.len() - 1])?;
            Ok(Some(1 << day))
        }
        Field::DayOfWeek if item.len() > 1 && item.ends_with('L') => {
            let day = value(field, &item[..item.len() - 1])?;
            Ok(Some(1 << day))
        }
        Field::DayOfWeek if item.contains('#') => {
            let (day, nth) = item.split_once('#').unwrap_or((item, ""));
            let day = value(field, day)?;
            match number(nth) {
                Some(1..=5) => Ok(Some(1 << day)),
                _ => Err(format!("\"#{nth}\" is not an occurrence from 1 to 5")),
            }
        }
        _ => Ok(None),
    }
}

fn parse_step(field: Field, step: &str) -> Result<u32, String> {
    let (_, max) = field.bounds();
    match number(step) {
        Some(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "step {} is not a number from 1 to {max}",
            quote(step)
        )),
    }
}

/// A value of `field`: a number within its bounds, or one of its names.
fn value(field: Field, text: &str) -> Result<u32, String> {
    let (min, max) = field.bounds();
    if let Some((names, offset)) = field.names() {
        if let Some(index) = names.iter().position(|n| *n == text) {
            return Ok(index as u32 + offset);
        }
    }
    match number(text) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{} is not a value from {min} to {max}",
            quote(text)
        )),
    }
}

/// One or two ASCII digits; anything longer is out of every field's bounds.
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 2 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}
