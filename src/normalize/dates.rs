//! Dates as sources write them → UTC. Zone-less dates take the source's
//! time zone; `CST` means China Standard Time for sources in China.
//!
//! Handles RFC 3339 / 822, ISO without a zone, `2024/1/20`, `2024.01.20`,
//! `2024年1月20日 09:30`, labels (`发布时间：`), year-less `03-21` and
//! `1月20日` (the latest such date not in the future), Minguo-calendar dates
//! of Taiwanese sites (`115.03.19`, `民國115年3月19日`), relative dates
//! (`3小时前`, `昨天`, `2 hours ago`), English month names, epoch numbers,
//! and per-source strftime formats.

use std::sync::OnceLock;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;
use regex::Regex;

/// How much of a moment a date string gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    Day,
    Minute,
    Second,
}

/// A parsed date and how precise it was (the more precise of two wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDate {
    pub utc: DateTime<Utc>,
    pub precision: Precision,
}

/// The date parser for feed fields (`pubDate`, `dc:date`, Atom dates…).
/// Stricter than [`parse_date`]: a date in a structured form (RFC 822,
/// W3C-DTF, asctime) that is impossible (hour 25, day 99) is no date,
/// rather than whatever a looser rule finds inside it.
pub fn parse_feed_date(s: &str, tz: Tz, formats: &[String]) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if let Some(d) = custom_formats(t, tz, formats) {
        return Some(d.utc);
    }
    match super::date_forms::structured(t, tz) {
        Some(known) => known.map(|(utc, _)| utc),
        None => parse_date(s, tz, formats, Utc::now()).map(|d| d.utc),
    }
}

/// Parses `s` as written by a source in time zone `tz`; `now` anchors
/// relative and year-less dates.
pub fn parse_date(s: &str, tz: Tz, formats: &[String], now: DateTime<Utc>) -> Option<ParsedDate> {
    let s = s
        .trim()
        .trim_matches(|c: char| c == '[' || c == ']' || c == '(' || c == ')');
    if s.is_empty() {
        return None;
    }
    custom_formats(s, tz, formats)
        .or_else(|| structured(s, tz))
        .or_else(|| epoch(s))
        .or_else(|| numeric(s, tz))
        .or_else(|| minguo(s, tz))
        .or_else(|| relative(s, tz, now))
        .or_else(|| yearless(s, tz, now))
        .or_else(|| english(s, tz))
        // A date no output format can write is no date.
        .filter(|d| super::limits::writable(d.utc))
}

/// RFC 822, W3C-DTF, asctime…: see [`super::date_forms`].
fn structured(s: &str, tz: Tz) -> Option<ParsedDate> {
    super::date_forms::structured(s, tz)
        .flatten()
        .map(|(utc, precision)| dated(utc, precision))
}

fn local(tz: Tz, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&naive)
        .earliest()
        // A local time inside a DST gap: the hour after it exists.
        .or_else(|| {
            tz.from_local_datetime(&naive.checked_add_signed(Duration::hours(1))?)
                .earliest()
        })
        .map(|d| d.with_timezone(&Utc))
}

fn dated(utc: DateTime<Utc>, precision: Precision) -> ParsedDate {
    ParsedDate { utc, precision }
}

fn custom_formats(s: &str, tz: Tz, formats: &[String]) -> Option<ParsedDate> {
    for f in formats {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return Some(dated(d.with_timezone(&Utc), precision_of_format(f)));
        }
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Some(dated(local(tz, n)?, precision_of_format(f)));
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(dated(
                local(tz, d.and_time(NaiveTime::MIN))?,
                Precision::Day,
            ));
        }
        // A format may describe only part of a longer string (a label before it).
        if let Ok((n, _)) = NaiveDateTime::parse_and_remainder(s, f) {
            return Some(dated(local(tz, n)?, precision_of_format(f)));
        }
    }
    None
}

fn precision_of_format(f: &str) -> Precision {
    if f.contains("%S") || f.contains("%T") || f.contains("%s") {
        Precision::Second
    } else if f.contains("%M") || f.contains("%R") {
        Precision::Minute
    } else {
        Precision::Day
    }
}

fn epoch(s: &str) -> Option<ParsedDate> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = s.parse().ok()?;
    let utc = match s.len() {
        10 => Utc.timestamp_opt(n, 0).single()?,
        13 => Utc.timestamp_millis_opt(n).single()?,
        _ => return None,
    };
    Some(dated(utc, Precision::Second))
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("date regex is valid"))
}

/// `2024-01-20`, `2024/1/20 09:30`, `2024.01.20`, `2024年1月20日 09:30:05`,
/// optionally with a zone after the time; anywhere in the string.
fn numeric(s: &str, tz: Tz) -> Option<ParsedDate> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = re(
        &RE,
        r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s*T?\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}(?:\.\d+)?))?\s*秒?)?\s*(Z|[+-]\d{2}:?\d{2})?",
    );
    let c = re.captures(s)?;
    let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let date = NaiveDate::from_ymd_opt(c[1].parse().ok()?, num(2)?, num(3)?)?;
    let (time, precision) = match (num(4), num(5)) {
        (Some(h), Some(m)) => {
            let sec = c
                .get(6)
                .and_then(|m| m.as_str().split('.').next()?.parse::<u32>().ok());
            (
                NaiveTime::from_hms_opt(h, m, sec.unwrap_or(0))?,
                if sec.is_some() {
                    Precision::Second
                } else {
                    Precision::Minute
                },
            )
        }
        _ => (NaiveTime::MIN, Precision::Day),
    };
    let naive = date.and_time(time);
    let utc = match c.get(7).map(|m| m.as_str()) {
        Some("Z") => Utc.from_utc_datetime(&naive),
        Some(z) => {
            let z = z.replace(':', "");
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let hh: i32 = z.get(1..3)?.parse().ok()?;
            let mm: i32 = z.get(3..5)?.parse().ok()?;
            let offset = FixedOffset::east_opt(sign * (hh * 3600 + mm * 60))?;
            offset
                .from_local_datetime(&naive)
                .single()?
                .with_timezone(&Utc)
        }
        None => local(tz, naive)?,
    };
    Some(dated(utc, precision))
}

/// Minguo (ROC) calendar dates of Taiwanese sites: year 1 is 1912, so
/// `115.03.19` and `民國115年3月19日` are 19 March 2026. Only three-digit
/// years (100–199, that is 2011–2110) with a full month and day are read:
/// shorter ones are too easily something else.
fn minguo(s: &str, tz: Tz) -> Option<ParsedDate> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = re(
        &RE,
        r"(?:^|[^\d.])(?:民國\s*)?(1\d{2})\s*([./-]|年)\s*(\d{1,2})\s*(?:[./-]|月)\s*(\d{1,2})\s*日?(?:\s+(\d{1,2})[:：](\d{2}))?(?:$|[^\d.])",
    );
    let c = re.captures(s)?;
    let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let year = 1911 + i32::try_from(num(1)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(3)?, num(4)?)?;
    let (time, precision) = match (num(5), num(6)) {
        (Some(h), Some(m)) => (NaiveTime::from_hms_opt(h, m, 0)?, Precision::Minute),
        _ => (NaiveTime::MIN, Precision::Day),
    };
    Some(dated(local(tz, date.and_time(time))?, precision))
}

/// `3小时前`, `刚刚`, `昨天 10:30`, `前天`, `2 hours ago`, `yesterday`.
fn relative(s: &str, tz: Tz, now: DateTime<Utc>) -> Option<ParsedDate> {
    static AGO: OnceLock<Regex> = OnceLock::new();
    static DAY: OnceLock<Regex> = OnceLock::new();
    let ago = re(
        &AGO,
        r"(?i)(\d+)\s*(秒|分钟|分|小时|天|周|seconds?|secs?|minutes?|mins?|hours?|days?|weeks?)\s*(?:前|ago)",
    );
    if let Some(c) = ago.captures(s) {
        // Checked all the way: `3000000000小时前` is no date, not a panic.
        let n: i64 = c[1].parse().ok()?;
        let unit = c[2].to_lowercase();
        let (delta, precision) = match unit.as_str() {
            u if u.starts_with('秒') || u.starts_with("sec") => {
                (Duration::try_seconds(n), Precision::Second)
            }
            u if u.starts_with('分') || u.starts_with("min") => {
                (Duration::try_minutes(n), Precision::Minute)
            }
            u if u.starts_with('小') || u.starts_with("hour") => {
                (Duration::try_hours(n), Precision::Minute)
            }
            u if u.starts_with('天') || u.starts_with("day") => {
                (Duration::try_days(n), Precision::Day)
            }
            _ => (Duration::try_weeks(n), Precision::Day),
        };
        return Some(dated(now.checked_sub_signed(delta?)?, precision));
    }
    if s.contains("刚刚") || s.eq_ignore_ascii_case("just now") {
        return Some(dated(now, Precision::Minute));
    }
    let day = re(
        &DAY,
        r"(?i)(今天|昨天|前天|today|yesterday)\s*(?:(\d{1,2})[:：](\d{2}))?",
    );
    let c = day.captures(s)?;
    let back = match c[1].to_lowercase().as_str() {
        "今天" | "today" => 0,
        "昨天" | "yesterday" => 1,
        _ => 2,
    };
    let today = now.with_timezone(&tz).date_naive();
    let date = today.checked_sub_signed(Duration::days(back))?;
    match (c.get(2), c.get(3)) {
        (Some(h), Some(m)) => {
            let t = NaiveTime::from_hms_opt(h.as_str().parse().ok()?, m.as_str().parse().ok()?, 0)?;
            Some(dated(local(tz, date.and_time(t))?, Precision::Minute))
        }
        _ => Some(dated(
            local(tz, date.and_time(NaiveTime::MIN))?,
            Precision::Day,
        )),
    }
}

/// `1月20日`, `01-20`, `03-21 10:30`: the year is the latest that does not
/// put the date in the future.
fn yearless(s: &str, tz: Tz, now: DateTime<Utc>) -> Option<ParsedDate> {
    // A string with a year in it is not year-less: never invent one for it.
    static YEAR: OnceLock<Regex> = OnceLock::new();
    if re(&YEAR, r"\d{4}").is_match(s) {
        return None;
    }
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = re(
        &RE,
        r"(?:^|[^\d])(\d{1,2})\s*(?:月|-|/)\s*(\d{1,2})\s*日?(?:\s+(\d{1,2})[:：](\d{2}))?(?:$|[^\d])",
    );
    let c = re.captures(s)?;
    let month: u32 = c[1].parse().ok()?;
    let day: u32 = c[2].parse().ok()?;
    let time = match (c.get(3), c.get(4)) {
        (Some(h), Some(m)) => Some(NaiveTime::from_hms_opt(
            h.as_str().parse().ok()?,
            m.as_str().parse().ok()?,
            0,
        )?),
        _ => None,
    };
    let local_now = now.with_timezone(&tz);
    for year in [local_now.year(), local_now.year() - 1] {
        let Some(date) = NaiveDate::from_ymd_opt(year, month, day) else {
            continue; // 29 February in a common year
        };
        let utc = local(tz, date.and_time(time.unwrap_or(NaiveTime::MIN)))?;
        if utc <= now {
            let precision = if time.is_some() {
                Precision::Minute
            } else {
                Precision::Day
            };
            return Some(dated(utc, precision));
        }
    }
    None
}

/// `January 15, 2024`, `Jan 15, 2024 10:00`, `15 January 2024`.
fn english(s: &str, tz: Tz) -> Option<ParsedDate> {
    static MDY: OnceLock<Regex> = OnceLock::new();
    static DMY: OnceLock<Regex> = OnceLock::new();
    let mdy = re(
        &MDY,
        r"(?i)\b([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?:,?\s+(?:at\s+)?(\d{1,2}):(\d{2})\s*(am|pm)?)?",
    );
    let dmy = re(
        &DMY,
        r"(?i)\b(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]{3,9})\.?,?\s+(\d{4})(?:,?\s+(\d{1,2}):(\d{2})\s*(am|pm)?)?",
    );
    let (month, day, year, caps) = if let Some(c) = mdy.captures(s) {
        (
            month_number(&c[1])?,
            c[2].parse().ok()?,
            c[3].parse().ok()?,
            c,
        )
    } else {
        let c = dmy.captures(s)?;
        (
            month_number(&c[2])?,
            c[1].parse().ok()?,
            c[3].parse().ok()?,
            c,
        )
    };
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let (time, precision) = match (caps.get(4), caps.get(5)) {
        (Some(h), Some(m)) => {
            let mut hour: u32 = h.as_str().parse().ok()?;
            match caps.get(6).map(|m| m.as_str().to_ascii_lowercase()) {
                Some(p) if p == "pm" && hour < 12 => hour += 12,
                Some(p) if p == "am" && hour == 12 => hour = 0,
                _ => {}
            }
            (
                NaiveTime::from_hms_opt(hour, m.as_str().parse().ok()?, 0)?,
                Precision::Minute,
            )
        }
        _ => (NaiveTime::MIN, Precision::Day),
    };
    Some(dated(local(tz, date.and_time(time))?, precision))
}

fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_ascii_lowercase();
    let prefix = lower.get(..3)?;
    MONTHS
        .iter()
        .position(|m| *m == prefix)
        .map(|i| i as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, 1, 4, 0, 0).unwrap() // 12:00 in Shanghai
    }

    fn at(s: &str) -> String {
        parse_date(s, Shanghai, &[], now())
            .unwrap_or_else(|| panic!("no date in {s:?}"))
            .utc
            .with_timezone(&Shanghai)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    #[test]
    fn chinese_site_forms() {
        assert_eq!(at("2024-01-20"), "2024-01-20 00:00");
        assert_eq!(at("2024-01-20 09:30"), "2024-01-20 09:30");
        assert_eq!(at("2024/1/20"), "2024-01-20 00:00");
        assert_eq!(at("2024.01.20"), "2024-01-20 00:00");
        assert_eq!(at("2024年1月20日"), "2024-01-20 00:00");
        assert_eq!(at("2024年01月20日 09:30"), "2024-01-20 09:30");
        assert_eq!(at("发布时间：2024-01-20 09:30:15"), "2024-01-20 09:30");
        assert_eq!(at("[2024-02-26]"), "2024-02-26 00:00");
    }

    #[test]
    fn minguo_dates_of_taiwanese_sites() {
        assert_eq!(at("115.03.19"), "2026-03-19 00:00");
        assert_eq!(at("113/02/29"), "2024-02-29 00:00");
        assert_eq!(at("民國113年1月20日"), "2024-01-20 00:00");
        assert_eq!(at("發布日期：112-12-05 09:30"), "2023-12-05 09:30");
        // Not a Minguo date: a version or an address, an impossible day.
        assert!(parse_date("192.168.1.10", Shanghai, &[], now()).is_none());
        assert!(parse_date("115.13.40", Shanghai, &[], now()).is_none());
    }

    #[test]
    fn yearless_dates_are_never_in_the_future() {
        assert_eq!(at("1月20日"), "2024-01-20 00:00");
        assert_eq!(at("02-26"), "2024-02-26 00:00");
        // 21 March is after "now" (1 March 2024), so it was last year's.
        assert_eq!(at("03-21"), "2023-03-21 00:00");
    }

    #[test]
    fn relative_dates() {
        assert_eq!(at("3小时前"), "2024-03-01 09:00");
        assert_eq!(at("昨天 10:30"), "2024-02-29 10:30");
        assert_eq!(at("前天"), "2024-02-28 00:00");
        assert_eq!(at("2 hours ago"), "2024-03-01 10:00");
        assert_eq!(at("yesterday"), "2024-02-29 00:00");
    }

    #[test]
    fn feed_forms_and_zones() {
        assert_eq!(at("Tue, 20 Feb 2024 16:45:00 +0800"), "2024-02-20 16:45");
        assert_eq!(at("Mon, 15 Jan 2024 10:00:00 CST"), "2024-01-15 10:00");
        assert_eq!(at("Mon, 15 Jan 2024 02:00:00 GMT"), "2024-01-15 10:00");
        assert_eq!(at("15 Jan 2024 10:00:00"), "2024-01-15 10:00");
        assert_eq!(at("2024-01-15T10:00:00+08:00"), "2024-01-15 10:00");
        assert_eq!(at("2024-01-15T02:00:00Z"), "2024-01-15 10:00");
        assert_eq!(at("2024-01-15T10:00:00"), "2024-01-15 10:00");
        assert_eq!(at("1705284000"), "2024-01-15 10:00");
        assert_eq!(at("1705284000000"), "2024-01-15 10:00");
        // CST outside China is US Central.
        let us = parse_date(
            "Mon, 15 Jan 2024 10:00:00 CST",
            chrono_tz::America::Chicago,
            &[],
            now(),
        )
        .unwrap();
        assert_eq!(us.utc.to_rfc3339(), "2024-01-15T16:00:00+00:00");
    }

    #[test]
    fn english_forms() {
        assert_eq!(at("January 15, 2024"), "2024-01-15 00:00");
        assert_eq!(at("Jan 15, 2024 10:00 pm"), "2024-01-15 22:00");
        assert_eq!(at("15 January 2024"), "2024-01-15 00:00");
        assert_eq!(at("Posted on March 3rd, 2023"), "2023-03-03 00:00");
    }

    #[test]
    fn custom_format_and_precision() {
        let f = vec!["%d/%m/%Y %Hh%M".to_string()];
        let d = parse_date("20/01/2024 09h30", Shanghai, &f, now()).unwrap();
        assert_eq!(d.precision, Precision::Minute);
        assert_eq!(d.utc.to_rfc3339(), "2024-01-20T01:30:00+00:00");
        assert_eq!(
            parse_date("2024-01-20", Shanghai, &[], now())
                .unwrap()
                .precision,
            Precision::Day
        );
    }

    #[test]
    fn absurd_dates_are_no_dates_not_panics() {
        let tz = chrono_tz::Asia::Shanghai;
        for s in [
            "3000000000小时前",
            "99999999999999999天前",
            "9223372036854775807 weeks ago",
            "153722867280912930 minutes ago",
            "0000-01-01 00:00",
        ] {
            assert_eq!(parse_date(s, tz, &[], now()), None, "{s}");
        }
        // Read as 9999-01-01 (a four-digit year inside the number): far in
        // the future, so normalizing stores no date.
        for s in ["99999-01-01T00:00:00Z", "+99999-01-01T00:00:00Z"] {
            let d = parse_date(s, tz, &[], now()).map(|d| d.utc);
            assert_eq!(super::super::limits::date(d, now()), None, "{s}");
        }
        assert!(parse_date("9999-12-31 10:00", tz, &[], now()).is_some());
    }

    #[test]
    fn garbage_is_no_date() {
        for s in ["", "soon", "第3期", "2024-13-45", "abc 99"] {
            assert!(parse_date(s, Shanghai, &[], now()).is_none(), "{s}");
        }
    }
}
