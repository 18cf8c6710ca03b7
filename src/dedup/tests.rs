//! Corpus-level tests: labeled fixtures, hard negatives, order independence,
//! and English cases written for this engine.

use super::engine::{DedupRecord, Engine};
use super::eval::{eval_jsonl, parse_jsonl};
use super::verify::DedupConfig;
use std::collections::BTreeMap;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/dedup/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn labels(input: &str) -> BTreeMap<String, String> {
    input
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            (
                v["id"].as_str().unwrap_or("").to_string(),
                v["cluster"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Pairwise (precision, recall) like score.py.
fn score(truth: &BTreeMap<String, String>, pred: &BTreeMap<String, String>) -> (f64, f64) {
    let ids: Vec<&String> = truth.keys().collect();
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            let t = truth[*a] == truth[*b];
            let p = pred.get(*a).is_some() && pred.get(*a) == pred.get(*b);
            match (t, p) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fn_ += 1,
                _ => {}
            }
        }
    }
    let r = |n: i32, d: i32| if d == 0 { 1.0 } else { n as f64 / d as f64 };
    (r(tp, tp + fp), r(tp, tp + fn_))
}

#[test]
fn public_corpus_scores() {
    let input = fixture("public.jsonl");
    let pred = eval_jsonl(&input, &DedupConfig::default()).expect("parses");
    let (p, r) = score(&labels(&input), &pred);
    assert_eq!(p, 1.0, "precision");
    assert!(r >= 0.95, "recall {r}");
}

/// Every pair of a hard-negative file's clusters ends apart.
fn assert_negatives_apart(corpus: &str, negatives: &str) {
    let input = fixture(corpus);
    let pred = eval_jsonl(&input, &DedupConfig::default()).expect("parses");
    let truth = labels(&input);
    let neg: serde_json::Value = serde_json::from_str(&fixture(negatives)).expect("json");
    let clusters_of = |c: &str| -> Vec<&String> {
        truth
            .iter()
            .filter(|(_, v)| *v == c)
            .map(|(k, _)| k)
            .collect()
    };
    let pairs = neg.as_array().expect("array");
    assert!(!pairs.is_empty());
    for p in pairs {
        let (a, b) = (p["a"].as_str().unwrap_or(""), p["b"].as_str().unwrap_or(""));
        let (xs, ys) = (clusters_of(a), clusters_of(b));
        assert!(
            !xs.is_empty() && !ys.is_empty(),
            "{a} / {b} not in {corpus}"
        );
        for x in &xs {
            for y in &ys {
                assert_ne!(pred[*x], pred[*y], "{x} and {y} merged");
            }
        }
    }
}

#[test]
fn hard_negatives_stay_apart() {
    assert_negatives_apart("public.jsonl", "public.hardneg.json");
}

/// Digests (short rewritten items) join their stories; the two corpora
/// together, so a digest cannot join a look-alike story of the other set.
#[test]
fn digest_corpus_scores() {
    let input = fixture("digests.jsonl");
    let pred = eval_jsonl(&input, &DedupConfig::default()).expect("parses");
    let (p, r) = score(&labels(&input), &pred);
    assert_eq!(p, 1.0, "precision");
    assert!(r >= 0.95, "recall {r}");
    let both = format!("{}\n{input}", fixture("public.jsonl"));
    let pred = eval_jsonl(&both, &DedupConfig::default()).expect("parses");
    let (p, r) = score(&labels(&both), &pred);
    assert_eq!(p, 1.0, "precision, both corpora");
    assert!(r >= 0.95, "recall {r}, both corpora");
}

#[test]
fn digest_hard_negatives_stay_apart() {
    assert_negatives_apart("digests.jsonl", "digests.hardneg.json");
}

/// Without the digest rule the digests are missed: the corpus tests it.
#[test]
fn digest_corpus_needs_the_digest_rule() {
    let input = fixture("digests.jsonl");
    let off = DedupConfig {
        digest_max_ratio: 0.0,
        ..DedupConfig::default()
    };
    let (_, r) = score(&labels(&input), &eval_jsonl(&input, &off).expect("parses"));
    assert!(r < 0.8, "recall without digests {r}");
}

#[test]
fn mockweb_republications_cluster() {
    let input = fixture("mockweb_pairs.jsonl");
    let recs = parse_jsonl(&input).expect("parses");
    let stories: BTreeMap<String, u64> = input
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            (
                v["id"].as_str().unwrap_or("").to_string(),
                v["story"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let mut e = Engine::new(DedupConfig::default());
    for r in recs {
        e.insert(r);
    }
    for (a, sa) in &stories {
        for (b, sb) in &stories {
            let same = e.cluster_of(a).map(|c| c.id) == e.cluster_of(b).map(|c| c.id);
            assert_eq!(
                same,
                sa == sb,
                "{a} vs {b}\n{}",
                e.explain(a).map(|x| x.to_string()).unwrap_or_default()
            );
        }
    }
}

/// Deterministic xorshift for shuffles.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

#[test]
fn order_independent() {
    let mut recs = parse_jsonl(&fixture("public.jsonl")).expect("parses");
    recs.extend(parse_jsonl(&fixture("digests.jsonl")).expect("parses"));
    let run = |recs: &[DedupRecord]| {
        let mut e = Engine::new(DedupConfig::default());
        for r in recs {
            e.insert(r.clone());
        }
        e.clusters()
    };
    let base = run(&recs);
    for seed in 1..8u64 {
        let mut v = recs.clone();
        shuffle(&mut v, seed * 0x9E37_79B9);
        assert_eq!(run(&v), base, "seed {seed}");
    }
    // Removing and re-adding (updates) converges to the same state.
    let mut e = Engine::new(DedupConfig::default());
    for r in &recs {
        e.insert(r.clone());
    }
    for r in recs.iter().step_by(3) {
        e.remove(&r.id);
        let _ = e.clusters();
    }
    for r in recs.iter().step_by(3) {
        e.insert(r.clone());
    }
    assert_eq!(e.clusters(), base);
}

/// The cheap walk over one entry's component (with the last clustering's
/// document frequencies) agrees with the full build on the fixture corpora,
/// both while entries stream in and for every entry at the end.
#[test]
fn component_of_matches_cluster_of() {
    let mut recs = parse_jsonl(&fixture("public.jsonl")).expect("parses");
    recs.extend(parse_jsonl(&fixture("mockweb_pairs.jsonl")).expect("parses"));
    let mut e = Engine::new(DedupConfig::default());
    let mut merged = 0;
    for (i, r) in recs.iter().enumerate() {
        e.insert(r.clone());
        if i % 7 == 0 {
            let local = e.component_of(&r.id);
            assert_eq!(local, e.cluster_of(&r.id), "{}", r.id);
            merged += local.is_some_and(|c| c.members.len() > 1) as usize;
        }
    }
    assert!(merged > 0, "the corpus has duplicates");
    for r in &recs {
        e.remove(&r.id);
        e.insert(r.clone());
        let local = e.component_of(&r.id);
        assert_eq!(local, e.cluster_of(&r.id), "{}", r.id);
    }
}

fn rec(id: &str, url: &str, title: &str, text: &str, day: i64) -> DedupRecord {
    DedupRecord {
        id: id.into(),
        source: id.split('-').next().unwrap_or("").into(),
        url: url.into(),
        title: title.into(),
        text: text.into(),
        published: Some(1_700_000_000 + day * 86_400),
        priority: 0,
    }
}

const WIRE: &str = "The city council of Riverton voted 7-2 on Tuesday to approve a $48 million bond for a new water treatment plant, ending a two-year debate over how to replace the aging facility on Mill Road.

Supporters said the plant, which will serve about 62,000 residents, is needed to meet state standards that take effect in 2027. Opponents argued the cost would push up monthly bills by an average of $9.

Mayor Linda Okafor said construction could begin next spring if the state approves the financing plan. The old plant, built in 1958, has failed three inspections since 2019.

Council member Dave Reyes, who voted against the measure, said residents deserved a public referendum on a project of this size.";

#[test]
fn english_republication_and_summary_merge() {
    let mut e = Engine::new(DedupConfig::default());
    e.insert(rec(
        "wire-1",
        "https://wire.example/a",
        "Riverton approves $48 million water plant bond",
        WIRE,
        0,
    ));
    let edited = WIRE
        .replace("Tuesday", "Tuesday night")
        .replace("Council member Dave Reyes", "Councilman Dave Reyes");
    e.insert(rec(
        "paper-1",
        "https://paper.example/b",
        "Council OKs water plant bond",
        &format!(
            "By Jane Smith, Staff Writer\n\n{edited}\n\nSource: Wire Service\nRead more: local news"
        ),
        1,
    ));
    e.insert(rec(
        "digest-1",
        "https://digest.example/c",
        "Riverton water plant bond approved",
        "Riverton's city council voted 7-2 on Tuesday to approve a $48 million bond for a new water treatment plant serving about 62,000 residents, which Mayor Linda Okafor said could be built starting next spring.",
        1,
    ));
    let c = e.cluster_of("wire-1").expect("present");
    assert_eq!(
        c.members.len(),
        3,
        "{}",
        e.explain("digest-1")
            .map(|x| x.to_string())
            .unwrap_or_default()
    );
    assert_eq!(c.id, "wire-1", "earliest is representative");
}

#[test]
fn english_template_reports_stay_apart() {
    let make = |city: &str, mayor: &str, votes: &str, amount: &str, people: &str| {
        WIRE.replace("Riverton", city)
            .replace("Linda Okafor", mayor)
            .replace("7-2", votes)
            .replace("$48 million", amount)
            .replace("62,000", people)
            .replace("Dave Reyes", "Ann Lee")
            .replace("1958", "1961")
            .replace("2019", "2020")
    };
    let mut e = Engine::new(DedupConfig::default());
    e.insert(rec(
        "a-1",
        "https://a.example/1",
        "Riverton approves water plant bond",
        WIRE,
        0,
    ));
    e.insert(rec(
        "b-1",
        "https://b.example/1",
        "Lakeside approves water plant bond",
        &make("Lakeside", "Tom Brandt", "6-3", "$31 million", "40,500"),
        2,
    ));
    assert_ne!(
        e.cluster_of("a-1").map(|c| c.id),
        e.cluster_of("b-1").map(|c| c.id),
        "{}",
        e.explain("a-1").map(|x| x.to_string()).unwrap_or_default()
    );
}

#[test]
fn window_and_url_and_update() {
    let mut e = Engine::new(DedupConfig::default());
    e.insert(rec("x-1", "https://x.example/1", "Riverton bond", WIRE, 0));
    e.insert(rec("y-1", "https://y.example/1", "Riverton bond", WIRE, 45));
    assert_eq!(
        e.cluster_of("y-1").map(|c| c.members.len()),
        Some(1),
        "outside the window"
    );
    e.insert(rec(
        "z-1",
        "https://x.example/1",
        "Something else",
        "Totally different text here.",
        90,
    ));
    assert_eq!(
        e.cluster_of("z-1").map(|c| c.id),
        Some("x-1".into()),
        "same canonical URL"
    );
    // Update y-1 into the window: now a copy of x-1.
    e.insert(rec("y-1", "https://y.example/1", "Riverton bond", WIRE, 3));
    assert_eq!(e.cluster_of("y-1").map(|c| c.members.len()), Some(3));
    e.remove("x-1");
    assert!(e.cluster_of("x-1").is_none());
    assert_eq!(e.cluster_of("y-1").map(|c| c.members.len()), Some(1));
    let text = e.explain("y-1").map(|x| x.to_string()).unwrap_or_default();
    assert!(text.contains("y-1 is in cluster y-1"), "{text}");
}

#[test]
fn english_weekly_reports_with_new_figures_stay_apart() {
    let week = |date: &str, cases: &str, beds: &str, wk: &str| {
        format!(
            "The county health department said on {date} that {cases} new flu cases were reported \
             in the week ending Friday, and {beds} hospital beds remain available across the region.\n\n\
             Officials urged residents to get vaccinated and to stay home when sick. Clinics at the \
             community center on Elm Street will stay open on weekends through the end of the season.\n\n\
             This is week {wk} of the seasonal report."
        )
    };
    let mut e = Engine::new(DedupConfig::default());
    e.insert(rec(
        "c-12",
        "https://c.example/12",
        "Weekly Flu Report",
        &week("March 12", "214", "37", "11"),
        0,
    ));
    e.insert(rec(
        "c-19",
        "https://c.example/19",
        "Weekly Flu Report",
        &week("March 19", "187", "42", "12"),
        7,
    ));
    let v = e.explain("c-12").map(|x| x.to_string()).unwrap_or_default();
    assert_eq!(
        e.cluster_of("c-12").map(|c| c.members.len()),
        Some(1),
        "{v}"
    );
    assert!(v.contains("RefusedAnchors"), "{v}");
}

#[test]
fn english_title_case_headline_copy_merges() {
    let mut e = Engine::new(DedupConfig::default());
    e.insert(rec(
        "w-1",
        "https://w.example/1",
        "Riverton Approves Water Plant Bond",
        WIRE,
        0,
    ));
    e.insert(rec(
        "p-1",
        "https://p.example/1",
        "Council Backs New Treatment Facility Funding",
        WIRE,
        0,
    ));
    assert_eq!(e.cluster_of("p-1").map(|c| c.members.len()), Some(2));
}

#[test]
fn bare_generic_headlines_do_not_merge() {
    let mut e = Engine::new(DedupConfig::default());
    e.insert(rec(
        "h-1",
        "https://h.example/1",
        "Weekly council update",
        "",
        0,
    ));
    e.insert(rec(
        "h-2",
        "https://h.example/2",
        "Weekly council update",
        "",
        7,
    ));
    assert_eq!(e.cluster_of("h-1").map(|c| c.members.len()), Some(1));
}

const QINGSHI: &str = "3月1日，青石镇2024年一季度重点项目集中开工仪式在青石智能装备产业园举行，12个项目集中开工，总投资48.6亿元。镇党委书记韩明出席并宣布开工。

此次开工的项目中，产业项目9个、基础设施项目3个，涵盖智能装备、节能环保、现代物流等领域。其中，总投资15亿元的精密传动部件项目占地180亩，达产后可实现年销售收入20亿元；青石大道东延工程全长3.2公里，建成后将打通产业园与高速出入口的联系。

韩明表示，青石镇将强化要素保障，落实“拿地即开工”审批模式，全力以赴推动项目建设提速提效。";

/// Another story of the same day that repeats the same two figures.
const QINGSHI_MEETING: &str = "3月1日下午，青石镇召开一季度经济运行分析会，分析研判当前经济形势，部署下阶段重点工作。镇长邵华主持会议。

会议通报，当天上午青石镇12个重点项目集中开工，总投资48.6亿元，一季度全镇工业开票销售预计增长8%，新增市场主体310户。

会议要求，各部门要紧盯全年目标任务，加强经济运行监测，帮助企业解决用工、融资等实际困难，推动经济运行稳中有进、开局良好。";

/// A digest whose facts fit two stories about equally stays apart; one
/// that carries a fact of only one of them joins it. Explain names the
/// rule and its scores either way.
#[test]
fn ambiguous_digest_stays_apart() {
    let mut e = Engine::new(DedupConfig::default());
    e.insert(rec(
        "qingshi-a",
        "https://qingshi.example/a",
        "青石镇一季度12个重点项目集中开工",
        QINGSHI,
        0,
    ));
    e.insert(rec(
        "qingshi-m",
        "https://qingshi.example/m",
        "青石镇一季度12个重点项目开工 经济运行开局良好",
        QINGSHI_MEETING,
        0,
    ));
    e.insert(rec(
        "paper-d",
        "https://paper.example/d",
        "青石12个项目开工",
        "本报讯 青石镇1日有12个项目同时动工建设，投资总额达48.6亿元。（青宣）",
        1,
    ));
    let why = e
        .explain("paper-d")
        .map(|x| x.to_string())
        .unwrap_or_default();
    assert_eq!(
        e.cluster_of("paper-d").map(|c| c.members.len()),
        Some(1),
        "{why}"
    );
    assert!(
        why.contains("RefusedAmbiguous") && why.contains("digest score"),
        "{why}"
    );
    // The length of the new road is in the project report only.
    e.insert(rec(
        "paper-d",
        "https://paper.example/d",
        "青石12个项目开工",
        "本报讯 青石镇1日有12个项目同时动工建设，投资总额达48.6亿元，青石大道将向东延伸3.2公里。（青宣）",
        1,
    ));
    let why = e
        .explain("paper-d")
        .map(|x| x.to_string())
        .unwrap_or_default();
    assert_eq!(
        e.cluster_of("paper-d").map(|c| c.id),
        Some("qingshi-a".into()),
        "{why}"
    );
    assert!(why.contains("merged with qingshi-a: Digest"), "{why}");
}

/// `explain` names the digest rule and its scores for a corpus digest.
#[test]
fn explain_names_the_digest_rule() {
    let mut e = Engine::new(DedupConfig::default());
    for r in parse_jsonl(&fixture("digests.jsonl")).expect("parses") {
        e.insert(r);
    }
    let why = e
        .explain("jcrb-20240228-d01")
        .map(|x| x.to_string())
        .unwrap_or_default();
    println!("{why}");
    assert!(
        why.contains("merged with kfq-20240226-a01: Digest") && why.contains("headline"),
        "{why}"
    );
}
