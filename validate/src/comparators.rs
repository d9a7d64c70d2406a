//! Drift and skew comparators of one feature: TFDV's L-infinity,
//! normalized absolute difference and Jensen-Shannon divergence, then
//! weir's chi-square and Kolmogorov-Smirnov tests, against the previous
//! span (drift) or serving data (skew).

use weir_tfmd::statistics::{Histogram, HistogramType};

use crate::anomalies::{
    six_digits, AnomalyType as T, Description, DriftSkewInfo, Measurement, MeasurementType,
};
use crate::context::RuleContext;
use crate::metrics::{self, Hist};
use crate::schema::{Feature, FeatureComparator};
use crate::stats_view::FeatureView;

/// Runs the feature's drift comparator against `ctx.previous` and its skew
/// comparator against `ctx.serving`, where both are present. A control
/// dataset without the feature is COMPARATOR_CONTROL_DATA_MISSING and
/// clears the thresholds, as TFDV does.
pub fn run(
    feature: &mut Feature,
    view: &FeatureView,
    ctx: &RuleContext,
) -> (Vec<Description>, DriftSkewInfo) {
    let mut out = Vec::new();
    let mut measured = DriftSkewInfo::default();
    let sides = [
        (
            &mut feature.drift_comparator,
            ctx.previous,
            &mut measured.drift,
            "current",
            "previous",
        ),
        (
            &mut feature.skew_comparator,
            ctx.serving,
            &mut measured.skew,
            "training",
            "serving",
        ),
    ];
    for (slot, control, measurements, treatment_name, control_name) in sides {
        let Some(c) = slot.as_mut().filter(|c| c.has_any()) else {
            continue;
        };
        let Some(control) = control else {
            continue;
        };
        match control.feature(&view.name) {
            Some(control_view) => {
                let mut findings = Findings {
                    descriptions: &mut out,
                    measurements,
                };
                let names = (treatment_name, control_name);
                compare(
                    view,
                    &control_view,
                    c,
                    names,
                    ctx.sketch_epsilon,
                    &mut findings,
                );
            }
            None => {
                c.infinity_norm = None;
                c.jensen_shannon_divergence = None;
                c.normalized_abs_difference = None;
                out.push(Description::new(
                    T::COMPARATOR_CONTROL_DATA_MISSING,
                    format!("{control_name} data missing"),
                    format!("{control_name} data is missing."),
                ));
            }
        }
    }
    (out, measured)
}

/// Where one comparator's results go.
struct Findings<'a> {
    descriptions: &'a mut Vec<Description>,
    measurements: &'a mut Vec<Measurement>,
}

impl Findings<'_> {
    /// Records `value` measured against the threshold in `slot`; when it
    /// crosses it, raises the threshold to the value (TFDV's fix) and adds
    /// the anomaly `describe(threshold)` gives.
    fn check(
        &mut self,
        kind: MeasurementType,
        value: f64,
        slot: &mut Option<f64>,
        describe: impl FnOnce(f64) -> Description,
    ) {
        let Some(threshold) = *slot else {
            return;
        };
        self.measurements.push(Measurement {
            kind,
            value,
            threshold,
        });
        if kind.crosses(value, threshold) {
            *slot = Some(value);
            self.descriptions.push(describe(threshold));
        }
    }
}

/// The anomaly of a divergence that cannot be measured because one side's
/// STANDARD histogram holds exact counts (`--histograms exact`) and the
/// other's is TFDV-derived: their numbers differ even on the same data.
fn mixed_histograms(between: &str, (a, a_name): (&Histogram, &str), b_name: &str) -> Description {
    let (exact, derived) = if a.is_exact_counts() {
        (a_name, b_name)
    } else {
        (b_name, a_name)
    };
    Description::new(
        T::CUSTOM_VALIDATION,
        format!("Histograms of different kinds between {between}"),
        format!(
            "The Jensen-Shannon divergence between {between} was not computed: the {exact} statistics hold exact-count histograms (--histograms exact) and the {derived} statistics TFDV-derived ones; compute both with the same --histograms."
        ),
    )
}

/// Runs one comparator's thresholds and tests.
fn compare(
    treatment: &FeatureView,
    control: &FeatureView,
    c: &mut FeatureComparator,
    (treatment_name, control_name): (&str, &str),
    epsilon: f64,
    findings: &mut Findings,
) {
    let t_counts = treatment.string_values_with_counts();
    let c_counts = control.string_values_with_counts();
    let between = format!("{treatment_name} and {control_name}");
    let distance = |kind: T, name: &str, d: f64, threshold: f64, at: Option<&str>| {
        let at = at
            .map(|v| format!(" The feature value with maximum difference is: {v}"))
            .unwrap_or_default();
        Description::new(
            kind,
            format!("High {name} between {between}"),
            format!(
                "The {name} between {between} is {} (up to six significant digits), above the threshold {}.{at}",
                six_digits(d),
                six_digits(threshold)
            ),
        )
    };
    if c.infinity_norm.is_some() {
        let (at, d) = metrics::l_infinity(&t_counts, &c_counts);
        findings.check(MeasurementType::LInfty, d, &mut c.infinity_norm, |t| {
            distance(
                T::COMPARATOR_L_INFTY_HIGH,
                "Linfty distance",
                d,
                t,
                Some(&at),
            )
        });
    }
    if c.normalized_abs_difference.is_some() {
        let (at, d) = metrics::normalized_absolute_difference(&t_counts, &c_counts);
        findings.check(
            MeasurementType::NormalizedAbsoluteDifference,
            d,
            &mut c.normalized_abs_difference,
            |t| {
                let name = "normalized absolute difference";
                distance(
                    T::COMPARATOR_NORMALIZED_ABSOLUTE_DIFFERENCE_HIGH,
                    name,
                    d,
                    t,
                    Some(&at),
                )
            },
        );
    }
    if c.jensen_shannon_divergence.is_some() {
        let jsd = if !t_counts.is_empty() && !c_counts.is_empty() {
            metrics::jensen_shannon_counts(&t_counts, &c_counts)
        } else {
            match (
                treatment.histogram(HistogramType::Standard),
                control.histogram(HistogramType::Standard),
            ) {
                (Some(a), Some(b)) if a.is_exact_counts() != b.is_exact_counts() => {
                    findings.descriptions.push(mixed_histograms(
                        &between,
                        (a, treatment_name),
                        control_name,
                    ));
                    None
                }
                (Some(a), Some(b)) => {
                    metrics::jensen_shannon_histograms(&Hist::from(a), &Hist::from(b))
                }
                _ => None,
            }
        };
        if let Some(d) = jsd {
            findings.check(
                MeasurementType::JensenShannonDivergence,
                d,
                &mut c.jensen_shannon_divergence,
                |t| {
                    let name = "approximate Jensen-Shannon divergence";
                    distance(
                        T::COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH,
                        name,
                        d,
                        t,
                        None,
                    )
                },
            );
        }
    }
    if c.chi_squared_p.is_some() {
        if let Some(r) = metrics::chi_squared(&t_counts, &c_counts) {
            findings.check(MeasurementType::ChiSquaredPValue, r.p_value, &mut c.chi_squared_p, |min_p| {
                Description::new(
                    T::CUSTOM_VALIDATION,
                    format!("Chi-square test rejects same distribution of {between}"),
                    format!(
                        "weir chi-square test between {between}: chi2 = {} with {} degrees of freedom, p-value {} below the minimum {}.",
                        six_digits(r.statistic),
                        r.dof_or_n,
                        six_digits(r.p_value),
                        six_digits(min_p)
                    ),
                )
            });
        }
    }
    if c.ks_p.is_some() {
        let r = match (
            treatment.histogram(HistogramType::Quantiles),
            control.histogram(HistogramType::Quantiles),
        ) {
            (Some(a), Some(b)) => {
                metrics::kolmogorov_smirnov(&Hist::from(a), &Hist::from(b), epsilon)
            }
            _ => None,
        };
        if let Some(r) = r {
            findings.check(MeasurementType::KsPValue, r.p_value, &mut c.ks_p, |min_p| {
                Description::new(
                    T::CUSTOM_VALIDATION,
                    format!("Kolmogorov-Smirnov test rejects same distribution of {between}"),
                    format!(
                        "weir two-sample KS test between {between} from quantile sketches: D = {} (within ±{} of the exact D), p-value {} below the minimum {}.",
                        six_digits(r.statistic),
                        six_digits(r.error_bound),
                        six_digits(r.p_value),
                        six_digits(min_p)
                    ),
                )
            });
        }
    }
}
