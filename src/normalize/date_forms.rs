//! The structured date forms feeds write: RFC 822 and its variants (colon
//! in the offset, two-digit years, named zones, `GMT+0800`, no weekday,
//! extra commas), asctime and Twitter's `Wed Aug 27 13:08:45 +0000 2008`,
//! W3C-DTF / ISO 8601 (reduced precision, two-digit years, space instead
//! of `T`), and the Greek, Hungarian and Korean forms other readers know.
//!
//! [`structured`] tells apart "not this form" (`None`: other parsers may
//! try) from "this form, but impossible" (`Some(None)`: no date at all,
//! so that an hour 25 never turns into a guessed year).

use std::sync::OnceLock;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use regex::Regex;

use super::dates::Precision;

/// A date and its precision, or `Some(None)` for a recognized but
/// impossible date, or `None` when `s` is none of these forms.
pub fn structured(s: &str, tz: Tz) -> Option<Option<(DateTime<Utc>, Precision)>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    korean(s).or_else(|| iso(s, tz)).or_else(|| rfc822(s, tz))
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("date regex is valid"))
}

fn at_zone(naive: NaiveDateTime, zone: Option<FixedOffset>, tz: Tz) -> Option<DateTime<Utc>> {
    match zone {
        Some(off) => off
            .from_local_datetime(&naive)
            .single()
            .map(|d| d.with_timezone(&Utc)),
        None => tz
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(naive + Duration::hours(1)))
                    .earliest()
            })
            .map(|d| d.with_timezone(&Utc)),
    }
}

/// `2004년 05월 28일 01:31:15`, `2004-05-25 오후 11:23:17`: Korean time.
fn korean(s: &str) -> Option<Option<(DateTime<Utc>, Precision)>> {
    if !s.contains(['년', '오']) {
        return None;
    }
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = re(
        &RE,
        r"^(\d{4})\s*(?:년|-)\s*(\d{1,2})\s*(?:월|-)\s*(\d{1,2})\s*일?\s*(오전|오후)?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?$",
    );
    let Some(c) = re.captures(s) else {
        return Some(None);
    };
    let n = |i: usize| c.get(i).map_or(Some(0), |m| m.as_str().parse::<u32>().ok());
    let mut hour = n(5)?;
    if c.get(4).is_some_and(|m| m.as_str() == "오후") && hour < 12 {
        hour += 12;
    }
    let kst = FixedOffset::east_opt(9 * 3600)?;
    let date = NaiveDate::from_ymd_opt(c[1].parse().ok()?, n(2)?, n(3)?);
    let time = NaiveTime::from_hms_opt(hour, n(6)?, n(7)?);
    Some(
        date.zip(time)
            .and_then(|(d, t)| at_zone(d.and_time(t), Some(kst), chrono_tz::UTC))
            .map(|d| (d, Precision::Second)),
    )
}

const HUNGARIAN: [&str; 12] = [
    "január",
    "február",
    "március",
    "április",
    "május",
    "június",
    "július",
    "augusztus",
    "szeptember",
    "október",
    "november",
    "december",
];

/// W3C-DTF and ISO 8601: `2003-12-31T10:14:55.1234Z`, `2003-12`, `2003`,
/// `2004-07-08 23:56:58 -00:20`, `2003-012-31`, `03-12-31`, `-0312`.
fn iso(s: &str, tz: Tz) -> Option<Option<(DateTime<Utc>, Precision)>> {
    static SHAPE: OnceLock<Regex> = OnceLock::new();
    static FULL: OnceLock<Regex> = OnceLock::new();
    static SHORT: OnceLock<Regex> = OnceLock::new();
    let shape = re(
        &SHAPE,
        r"^(?:\d{4}(?:-|$)|\d{8}$|-?\d{2}-?\d{2}(?:-?\d{2})?$)",
    );
    if !shape.is_match(s) {
        return None;
    }
    let mut text = s.to_string();
    for (i, m) in HUNGARIAN.iter().enumerate() {
        text = text.replace(m, &format!("{:02}", i + 1));
    }
    let full = re(
        &FULL,
        r"^(\d{4})(?:-(\d{1,3})(?:-(\d{1,2}))?)?(?:(?:T|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{1,5})?)?$",
    );
    let short = re(
        &SHORT,
        r"^(?:(-)(\d{2})-?(\d{2})|(\d{2})(\d{2})(\d{2})|(\d{2})-(\d{2})-(\d{2}))$",
    );
    let (y, mo, d, h, mi, sec, zone) = if let Some(c) = short.captures(&text) {
        // Two-digit years are this century; `-YYMM` has no day.
        let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
        let (yy, mo, day) = if c.get(1).is_some() {
            (num(2)?, num(3), None)
        } else {
            let at = if c.get(4).is_some() { 4 } else { 7 };
            (num(at)?, num(at + 1), Some(num(at + 2)))
        };
        (
            Some(2000 + yy as i32),
            Some(mo),
            day,
            None,
            None,
            None,
            None,
        )
    } else if let Some(basic) = (s.len() == 8).then(|| s.parse::<u32>().ok()).flatten() {
        // `20240115`: basic format, no separators.
        (
            Some((basic / 10000) as i32),
            Some(Some(basic / 100 % 100)),
            Some(Some(basic % 100)),
            None,
            None,
            None,
            None,
        )
    } else if let Some(c) = full.captures(&text) {
        let num = |i: usize| c.get(i).map(|m| m.as_str().parse::<u32>().ok());
        (
            c[1].parse::<i32>().ok(),
            num(2),
            num(3),
            num(4),
            num(5),
            num(6),
            c.get(7).map(|m| m.as_str().to_string()),
        )
    } else {
        return Some(None);
    };
    let value = (|| {
        let month = mo.unwrap_or(Some(1))?;
        let day = d.unwrap_or(Some(1))?;
        let date = NaiveDate::from_ymd_opt(y?, month, day)?;
        let (time, precision) = match (h, mi) {
            (Some(h), Some(mi)) => {
                let precision = if sec.is_some() {
                    Precision::Second
                } else {
                    Precision::Minute
                };
                let sec = sec.unwrap_or(Some(0))?;
                // A leap second reads as the last second of its minute.
                let t = NaiveTime::from_hms_opt(h?, mi?, if sec == 60 { 59 } else { sec })?;
                (t, precision)
            }
            _ => (NaiveTime::MIN, Precision::Day),
        };
        let zone = match zone.as_deref() {
            None => None,
            Some(z) => Some(zone_offset(z, tz)?),
        };
        Some((at_zone(date.and_time(time), zone, tz)?, precision))
    })();
    Some(value)
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const GREEK_WEEKDAYS: [&str; 7] = ["Δευ", "Τρι", "Τετ", "Πεμ", "Παρ", "Σαβ", "Κυρ"];
const GREEK_MONTHS: [&[&str]; 12] = [
    &["Ιαν"],
    &["Φεβ"],
    &["Μάρ", "Μαρ", "Μάώ", "Μαώ"],
    &["Απρ"],
    &["Μάι", "Μαι", "Μαΐ", "Μάϊ"],
    &["Ιούν", "Ιον"],
    &["Ιούλ", "Ιολ"],
    &["Αύγ", "Αυγ"],
    &["Σεπ"],
    &["Οκτ"],
    &["Νοέ", "Νοε"],
    &["Δεκ"],
];

fn month_of(tok: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = tok.trim_end_matches('.').to_lowercase();
    if lower.is_ascii() && lower.len() >= 3 {
        let full = [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ];
        if let Some(i) = MONTHS.iter().position(|m| lower.starts_with(m)) {
            if full[i].starts_with(&lower) || lower == "sept" {
                return Some(i as u32 + 1);
            }
        }
        return None;
    }
    GREEK_MONTHS
        .iter()
        .position(|names| names.contains(&tok))
        .map(|i| i as u32 + 1)
}

fn is_weekday(tok: &str) -> bool {
    let lower = tok.to_ascii_lowercase();
    (lower.len() >= 3
        && lower.is_ascii()
        && WEEKDAYS.iter().any(|w| lower.starts_with(w))
        && lower.chars().all(|c| c.is_ascii_alphabetic()))
        || GREEK_WEEKDAYS.contains(&tok)
}

/// RFC 822 and relatives; see the module doc.
fn rfc822(s: &str, tz: Tz) -> Option<Option<(DateTime<Utc>, Precision)>> {
    let spaced = s.replace(',', " ");
    let mut toks: Vec<&str> = spaced.split_whitespace().collect();
    let had_weekday = toks.first().is_some_and(|t| is_weekday(t));
    if had_weekday {
        toks.remove(0);
    }
    let is_num = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    // Which layout: day month year / month day year / month day time year / y/m/d.
    let (day, month, year, rest): (&str, Option<u32>, &str, Vec<&str>) = match toks.as_slice() {
        [d, m, y, rest @ ..] if is_num(d) && month_of(m).is_some() => {
            (d, month_of(m), y, rest.to_vec())
        }
        [m, d, t, rest @ ..] if month_of(m).is_some() && t.contains(':') => {
            // asctime: `Jan  4 16:29:06 2004`, `Jul 15 01:16:00 +0000 2012`.
            let (y, zone) = match rest {
                [y] => (*y, vec![]),
                [z, y] => (*y, vec![*z]),
                _ => return Some(None),
            };
            let mut r = vec![*t];
            r.extend(zone);
            (d, month_of(m), y, r)
        }
        [m, d, y, rest @ ..] if month_of(m).is_some() => (d, month_of(m), y, rest.to_vec()),
        [ymd, rest @ ..] if had_weekday && ymd.matches('/').count() == 2 => {
            // Perforce: `Fri, 2006/09/15 08:19:53 EDT`.
            let parts: Vec<&str> = ymd.split('/').collect();
            let (y, m, d) = (parts[0], parts[1].parse().ok(), parts[2]);
            return Some(finish(d, m, y, rest, tz));
        }
        _ if had_weekday => return Some(None),
        [m, ..] if month_of(m).is_some() => return Some(None),
        _ => return None,
    };
    Some(finish(day, month, year, &rest, tz))
}

fn finish(
    day: &str,
    month: Option<u32>,
    year: &str,
    rest: &[&str],
    tz: Tz,
) -> Option<(DateTime<Utc>, Precision)> {
    let day: u32 = day.parse().ok()?;
    let year: i32 = match year.len() {
        2 => {
            let yy: i32 = year.parse().ok()?;
            if yy < 70 { 2000 + yy } else { 1900 + yy }
        }
        4 => year.parse().ok()?,
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(year, month?, day)?;
    let (time, precision, zone_toks) = match rest.split_first() {
        Some((t, z)) if t.contains(':') => {
            let parts: Vec<&str> = t.split(':').collect();
            if !(2..=3).contains(&parts.len())
                || !parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            {
                return None;
            }
            let n = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<u32>().ok());
            let mut hour = n(0)?;
            // `10:00 pm`: a 12-hour clock.
            let z = match z.first().map(|m| m.to_ascii_lowercase()) {
                Some(m) if m == "pm" || m == "am" => {
                    if m == "pm" && hour < 12 {
                        hour += 12;
                    } else if m == "am" && hour == 12 {
                        hour = 0;
                    }
                    &z[1..]
                }
                _ => z,
            };
            let sec = n(2)?;
            let t = NaiveTime::from_hms_opt(hour, n(1)?, if sec == 60 { 59 } else { sec })?;
            let precision = if parts.len() == 3 {
                Precision::Second
            } else {
                Precision::Minute
            };
            (t, precision, z)
        }
        _ => (NaiveTime::MIN, Precision::Day, rest),
    };
    let zone = match zone_toks.concat().as_str() {
        "" => None,
        z => Some(zone_offset(z, tz)?),
    };
    Some((at_zone(date.and_time(time), zone, tz)?, precision))
}

/// `Z`, `GMT`, `+0800`, `+08:00`, `+8`, `GMT+0800`, `UTC-01:01`, `Etc/GMT`,
/// US and European zone names; `CST` is China's for sources in China.
fn zone_offset(z: &str, tz: Tz) -> Option<FixedOffset> {
    let z = z.trim();
    let z = z.strip_prefix("Etc/").unwrap_or(z);
    let upper = z.to_ascii_uppercase();
    for prefix in ["GMT", "UTC", "UT"] {
        if let Some(rest) = upper.strip_prefix(prefix) {
            if rest.is_empty() {
                return FixedOffset::east_opt(0);
            }
            if rest.starts_with(['+', '-']) {
                return numeric_offset(rest);
            }
        }
    }
    if upper.starts_with(['+', '-']) {
        return numeric_offset(&upper);
    }
    let hours: f32 = match upper.as_str() {
        "Z" => 0.0,
        "EST" | "ET" => -5.0,
        "EDT" => -4.0,
        "CST" if in_china(tz) => 8.0,
        "CST" | "CT" => -6.0,
        "CDT" => -5.0,
        "MST" | "MT" => -7.0,
        "MDT" => -6.0,
        "PST" | "PT" => -8.0,
        "PDT" => -7.0,
        "AST" | "AT" => -4.0,
        "ADT" => -3.0,
        "AKST" => -9.0,
        "AKDT" => -8.0,
        "HST" => -10.0,
        "NST" => -3.5,
        "WET" => 0.0,
        "BST" | "WEST" | "CET" | "MET" | "MEZ" => 1.0,
        "CEST" | "MEST" | "MESZ" | "EET" => 2.0,
        "EEST" | "MSK" => 3.0,
        "IST" => 5.5,
        "HKT" | "SGT" | "AWST" | "PHT" => 8.0,
        "JST" | "KST" => 9.0,
        "ACST" => 9.5,
        "AEST" => 10.0,
        "AEDT" => 11.0,
        "NZST" => 12.0,
        "NZDT" => 13.0,
        _ => return None,
    };
    FixedOffset::east_opt((hours * 3600.0) as i32)
}

pub(crate) fn in_china(tz: Tz) -> bool {
    matches!(
        tz,
        Tz::Asia__Shanghai | Tz::Asia__Chongqing | Tz::Asia__Harbin | Tz::Asia__Urumqi | Tz::PRC
    )
}

/// `+0800`, `+08:00`, `-0000`, `+8`, `-01:01`.
fn numeric_offset(z: &str) -> Option<FixedOffset> {
    let sign = if z.starts_with('-') { -1 } else { 1 };
    let digits = &z[1..];
    let (h, m) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() == 4 => digits.split_at(2),
        None if (1..=2).contains(&digits.len()) => (digits, "0"),
        None => return None,
    };
    if h.is_empty() || m.is_empty() || !(h.len() <= 2 && m.len() <= 2) {
        return None;
    }
    let h: i32 = h.parse().ok()?;
    let m: i32 = m.parse().ok()?;
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Option<String> {
        structured(s, chrono_tz::UTC)
            .flatten()
            .map(|(d, _)| d.format("%Y-%m-%d %H:%M:%S").to_string())
    }

    #[test]
    fn rfc822_variants() {
        assert_eq!(
            utc("Mon, 15 Jan 2024 10:00:00 +08:00").unwrap(),
            "2024-01-15 02:00:00"
        );
        assert_eq!(
            utc("Thu, 01 Jan 04 19:48:21 GMT").unwrap(),
            "2004-01-01 19:48:21"
        );
        assert_eq!(
            utc("Mon, 15 Jan 2024 10:00:00 GMT+0800").unwrap(),
            "2024-01-15 02:00:00"
        );
        assert_eq!(
            utc("Wed, 19 Feb 2012 22:40:00 GMT-01:01").unwrap(),
            "2012-02-19 23:41:00"
        );
        assert_eq!(
            utc("Mon, 13 Feb, 2012 06:28:00 UTC").unwrap(),
            "2012-02-13 06:28:00"
        );
        assert_eq!(
            utc("Mon, 26 January 2004 16:31:00 PT").unwrap(),
            "2004-01-27 00:31:00"
        );
        assert_eq!(
            utc("Thu, 30 Apr 2015 08:57:00 MET").unwrap(),
            "2015-04-30 07:57:00"
        );
        assert_eq!(
            utc("Fri,24 Nov 2023 18:28:36 -0000").unwrap(),
            "2023-11-24 18:28:36"
        );
        assert_eq!(utc("Thu, 01 Jan 2004").unwrap(), "2004-01-01 00:00:00");
        assert_eq!(
            utc("Fri, 2006/09/15 08:19:53 EDT").unwrap(),
            "2006-09-15 12:19:53"
        );
    }

    #[test]
    fn asctime_and_twitter() {
        assert_eq!(
            utc("Sun Jan  4 16:29:06 2004").unwrap(),
            "2004-01-04 16:29:06"
        );
        assert_eq!(
            utc("Wed Aug 27 13:08:45 +0000 2008").unwrap(),
            "2008-08-27 13:08:45"
        );
        assert_eq!(
            utc("Thu Aug 30 2012 17:26:16 +0200").unwrap(),
            "2012-08-30 15:26:16"
        );
    }

    #[test]
    fn w3cdtf_variants() {
        assert_eq!(
            utc("2003-12-31T10:14:55.1234Z").unwrap(),
            "2003-12-31 10:14:55"
        );
        assert_eq!(utc("2003-12").unwrap(), "2003-12-01 00:00:00");
        assert_eq!(utc("2003").unwrap(), "2003-01-01 00:00:00");
        assert_eq!(
            utc("2004-07-08 23:56:58 -00:20").unwrap(),
            "2004-07-09 00:16:58"
        );
        assert_eq!(utc("03-12-31").unwrap(), "2003-12-31 00:00:00");
        assert_eq!(utc("-0312").unwrap(), "2003-12-01 00:00:00");
        assert_eq!(utc("031231").unwrap(), "2003-12-31 00:00:00");
        assert_eq!(
            utc("2004-július-13T9:15-05:00").unwrap(),
            "2004-07-13 14:15:00"
        );
    }

    #[test]
    fn korean_and_greek() {
        assert_eq!(
            utc("2004-05-25 오후 11:23:17").unwrap(),
            "2004-05-25 14:23:17"
        );
        assert_eq!(
            utc("2004년 05월 28일  01:31:15").unwrap(),
            "2004-05-27 16:31:15"
        );
        assert_eq!(
            utc("Κυρ, 11 Ιούλ 2004 12:00:00 EST").unwrap(),
            "2004-07-11 17:00:00"
        );
    }

    #[test]
    fn impossible_dates_are_no_dates() {
        for s in [
            "2003-12-31T25:14:55Z",
            "2003-12-31T10:61:55Z",
            "2013-01-27-01",
            "2013-01-28T09:00:00+00:xx",
            "2013-01-28T11:30:00-06:00Textra",
            "9999-12-31T23:59:59-99:99",
            "Sun, 16 Dec 2012 1:2:3:4 GMT",
            "Sun, 16 zzz 2012 11:47:32 GMT",
            "Sun, 99 Jun 2009 12:00:00 GMT",
            "Sun, 16 Dec 2012 11:47:32 +zz:00",
            "22013",
            "013",
        ] {
            assert!(structured(s, chrono_tz::UTC).flatten().is_none(), "{s}");
        }
        assert_eq!(structured("发布时间：2024-01-20", chrono_tz::UTC), None);
    }

    #[test]
    fn cst_depends_on_the_source() {
        let china = structured("Mon, 15 Jan 2024 10:00:00 CST", chrono_tz::Asia::Shanghai);
        assert_eq!(
            china.flatten().unwrap().0.to_rfc3339(),
            "2024-01-15T02:00:00+00:00"
        );
        let us = structured("Mon, 15 Jan 2024 10:00:00 CST", chrono_tz::America::Chicago);
        assert_eq!(
            us.flatten().unwrap().0.to_rfc3339(),
            "2024-01-15T16:00:00+00:00"
        );
    }
}
