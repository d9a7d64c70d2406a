//! Deterministic synthetic data for samples, tests and benchmarks: a
//! taxi-like table with the columns of TFX's Chicago taxi example, and a
//! table shaped like TPC-H `lineitem`. Same seed, same bytes.

use std::io::Write;

/// splitmix64: a tiny, fast, well-mixed deterministic generator.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo) as u64) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One of `items`, skewed towards the front (Zipf-like).
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let u = self.unit();
        items[((u * u * items.len() as f64) as usize).min(items.len() - 1)]
    }
}

const TAXI_HEADER: &str = "pickup_community_area,fare,trip_start_month,trip_start_hour,trip_start_day,trip_start_timestamp,pickup_latitude,pickup_longitude,dropoff_latitude,dropoff_longitude,trip_miles,pickup_census_tract,dropoff_census_tract,payment_type,company,trip_seconds,dropoff_community_area,tips";

const PAYMENT_TYPES: &[&str] = &[
    "Cash",
    "Credit Card",
    "No Charge",
    "Unknown",
    "Dispute",
    "Prcard",
];
const COMPANIES: &[&str] = &[
    "Taxi Affiliation Services",
    "Flash Cab",
    "Dispatch Taxi Affiliation",
    "Yellow Cab",
    "Blue Ribbon Taxi Association Inc.",
    "Choice Taxi Association",
    "Northwest Management LLC",
    "KOAM Taxi Association",
    "Chicago Medallion Leasing INC",
    "Top Cab Affiliation",
    "Globe Taxi",
    "Chicago Elite Cab Corp.",
];

/// Writes `rows` taxi-like CSV rows (with header). Columns and types follow
/// TFX's taxi data: some integer columns have empty cells, fares are
/// decimals, payment type and company are text.
pub fn write_taxi_csv(out: &mut impl Write, rows: usize, seed: u64) -> std::io::Result<()> {
    let mut g = SplitMix64::new(seed);
    writeln!(out, "{TAXI_HEADER}")?;
    for _ in 0..rows {
        let ts = 1_356_998_400 + g.range(0, 4 * 365 * 86_400);
        let hour = (ts / 3600) % 24;
        let day = (ts / 86_400 + 4) % 7 + 1;
        let month = ((ts / 86_400) % 365) / 31 + 1;
        let miles = (g.unit() * g.unit() * 20.0 * 10.0).round() / 10.0;
        let secs = ((miles * 180.0 + g.range(60, 600) as f64) / 60.0).round() as i64 * 60;
        let fare = ((3.25 + miles * 2.25 + secs as f64 / 36.0) * 4.0).round() / 4.0;
        let payment = g.pick(PAYMENT_TYPES);
        let tips = if payment == "Credit Card" && g.chance(0.8) {
            ((fare * (0.1 + g.unit() * 0.2)) * 100.0).round() / 100.0
        } else {
            0.0
        };
        let area = |g: &mut SplitMix64| {
            if g.chance(0.05) {
                String::new()
            } else {
                g.range(1, 78).to_string()
            }
        };
        let tract = |g: &mut SplitMix64| {
            if g.chance(0.3) {
                String::new()
            } else {
                (17_031_000_000 + g.range(10_000, 990_000)).to_string()
            }
        };
        let coord = |g: &mut SplitMix64, base: f64, spread: f64| {
            format!("{:.9}", base + (g.unit() - 0.5) * spread)
        };
        let pickup_area = area(&mut g);
        let (plat, plon) = (coord(&mut g, 41.88, 0.3), coord(&mut g, -87.68, 0.3));
        let (dlat, dlon) = if g.chance(0.1) {
            (String::new(), String::new())
        } else {
            (coord(&mut g, 41.89, 0.3), coord(&mut g, -87.66, 0.3))
        };
        let (pt, dt) = (tract(&mut g), tract(&mut g));
        let company = if g.chance(0.1) { "" } else { g.pick(COMPANIES) };
        let drop_area = area(&mut g);
        writeln!(
            out,
            "{pickup_area},{fare},{month},{hour},{day},{ts},{plat},{plon},{dlat},{dlon},{miles},{pt},{dt},{payment},{company},{secs},{drop_area},{tips}"
        )?;
    }
    Ok(())
}

const LINEITEM_HEADER: &str = "l_orderkey,l_partkey,l_suppkey,l_linenumber,l_quantity,l_extendedprice,l_discount,l_tax,l_returnflag,l_linestatus,l_shipdate,l_commitdate,l_receiptdate,l_shipinstruct,l_shipmode,l_comment";
const INSTRUCT: &[&str] = &[
    "DELIVER IN PERSON",
    "COLLECT COD",
    "NONE",
    "TAKE BACK RETURN",
];
const MODES: &[&str] = &["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"];
const WORDS: &[&str] = &[
    "furiously",
    "carefully",
    "quickly",
    "slyly",
    "blithely",
    "regular",
    "final",
    "ironic",
    "pending",
    "express",
    "special",
    "bold",
    "even",
    "silent",
    "unusual",
    "deposits",
    "requests",
    "accounts",
    "packages",
    "theodolites",
    "instructions",
    "foxes",
    "pinto",
    "beans",
    "asymptotes",
    "dolphins",
];

fn date(days: i64) -> String {
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Writes `rows` CSV rows shaped like TPC-H `lineitem` (16 mixed columns).
pub fn write_lineitem_csv(out: &mut impl Write, rows: usize, seed: u64) -> std::io::Result<()> {
    let mut g = SplitMix64::new(seed);
    writeln!(out, "{LINEITEM_HEADER}")?;
    let mut order = 1i64;
    let mut line = 0i64;
    for _ in 0..rows {
        line += 1;
        if line > g.range(1, 8) {
            order += g.range(1, 4);
            line = 1;
        }
        let qty = g.range(1, 51);
        let price = (qty as f64 * (900.0 + g.unit() * 1200.0) * 100.0).round() / 100.0;
        let ship = 8_036 + g.range(0, 2_526);
        let nwords = g.range(2, 7) as usize;
        let comment: Vec<&str> = (0..nwords).map(|_| g.pick(WORDS)).collect();
        writeln!(
            out,
            "{order},{},{},{line},{qty}.00,{price:.2},0.{:02},0.{:02},{},{},{},{},{},{},{},{}",
            g.range(1, 200_000),
            g.range(1, 10_000),
            g.range(0, 11),
            g.range(0, 9),
            g.pick(&["N", "R", "A"]),
            g.pick(&["O", "F"]),
            date(ship),
            date(ship + g.range(-30, 60)),
            date(ship + g.range(1, 31)),
            g.pick(INSTRUCT),
            g.pick(MODES),
            comment.join(" ")
        )?;
    }
    Ok(())
}

/// `n` framed TFRecord records of tf.Examples with one int64 feature,
/// `x` = 0, 1, ..., n-1 (uncompressed): the smallest valid TFRecord input,
/// for tests that need one.
pub fn int_examples_tfrecord(n: usize) -> Vec<u8> {
    use crate::proto::{Example, Feature, FeatureKind, Features, Int64List};
    let mut out = Vec::new();
    for i in 0..n as i64 {
        let kind = FeatureKind::Int64List(Int64List { value: vec![i] });
        let feature = [("x".to_string(), Feature { kind: Some(kind) })]
            .into_iter()
            .collect();
        let ex = Example {
            features: Some(Features { feature }),
        };
        crate::tfrecord::frame_record(&mut out, &prost::Message::encode_to_vec(&ex));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generators_are_deterministic() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write_taxi_csv(&mut a, 100, 7).unwrap();
        write_taxi_csv(&mut b, 100, 7).unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        write_taxi_csv(&mut c, 100, 8).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(8_036), "1992-01-02");
        assert_eq!(date(19_723), "2024-01-01");
    }
}
