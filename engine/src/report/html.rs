//! The report as one self-contained HTML page: inline CSS, a small inline
//! script, no request of any kind. The tables are plain HTML (readable
//! without JavaScript); charts are drawn as SVG by the script when their row
//! scrolls into view, from the numbers in the row's `data-chart` attribute,
//! so 2,000 features stay small and responsive.
//!
//! Every piece of user data (feature names, values, descriptions) goes
//! through [`escape`]; chart data is JSON inside an escaped attribute and
//! is only ever set as text or numbers by the script.
//!
//! Stable structure, which tests and styles rely on: `#summary`,
//! `section.split#split-<i>`, `table.features.numeric` and
//! `table.features.categorical` with `tr.feature[data-name][data-drift]
//! [data-missing]`, cells `td.<column>`, flagged cells `.flag`,
//! `tr.feature.anomalous`, `#anomalies li.anomaly a[href="#f-<i>-<j>"]`.

use std::fmt::Write;

use super::model::{Bars, FeatureRow, Report, SplitReport};

/// Text as HTML text or attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

fn bars_json(b: &Bars) -> String {
    let items: Vec<String> = b
        .iter()
        .map(|(label, high, count)| {
            format!(
                "[{},{},{}]",
                serde_json::Value::String(label.clone()),
                json_num(*high),
                json_num(*count)
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,sans-serif;margin:0 2em 4em;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:2em}
#summary dl{display:flex;flex-wrap:wrap;gap:.5em 2em} #summary dt{color:#666} #summary dd{margin:0;font-weight:600}
table.features{border-collapse:collapse;width:100%;margin:.5em 0}
table.features th,table.features td{border-bottom:1px solid #ddd;padding:2px 6px;text-align:right;vertical-align:top}
table.features td.name,table.features th.name,td.top,td.kind{text-align:left}
td.name{font-family:ui-monospace,monospace;min-width:12em;overflow-wrap:anywhere}
td.drift{white-space:nowrap;text-align:left;font-size:.9em}
.flag{color:#b00020;font-weight:600} tr.anomalous td.name{border-left:4px solid #b00020}
td.drift.drifted{background:#fde0e0}
td.chart{min-width:252px;width:252px} td.chart svg{display:block}
.scroll{overflow-x:auto}
details.quantiles,details.valency{font-size:.8em;color:#555;text-align:left}
.controls{margin:.5em 0} .controls button{margin-right:.3em}
#anomalies li{margin:.2em 0} .sev-ERROR{color:#b00020} .sev-WARNING{color:#a06000}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
"#;

const SCRIPT: &str = r#"
(function(){
  // Comparing: percent by default, so datasets of different sizes overlay.
  var log=false, percent=document.body.getAttribute('data-compare')==='1';
  function draw(td){
    var d; try{d=JSON.parse(td.getAttribute('data-chart'));}catch(e){return;}
    var series=[d.bars].concat(d.base?[d.base]:[]), n=d.bars.length;
    if(d.base&&d.base.length>n){n=d.base.length;}
    var plot=td.querySelector('.plot')||td;
    if(!n){plot.textContent='';return;}
    var W=250,H=70,bw=W/n, max=0, totals=series.map(function(s){return s.reduce(function(a,b){return a+(b[2]||0);},0)||1;});
    function val(s,i,c){var v=c||0; if(percent){v=v/totals[s]*100;} return log?Math.log10(1+v):v;}
    series.forEach(function(s,si){s.forEach(function(b,i){max=Math.max(max,val(si,i,b[2]));});});
    var ns='http://www.w3.org/2000/svg', svg=document.createElementNS(ns,'svg');
    svg.setAttribute('width',W); svg.setAttribute('height',H); svg.setAttribute('role','img');
    var colors=['#3b6fb6','#e08a1e'];
    series.forEach(function(s,si){s.forEach(function(b,i){
      var h=max>0?val(si,i,b[2])/max*(H-2):0, r=document.createElementNS(ns,'rect');
      r.setAttribute('x',i*bw+(si?bw*0.25:0)); r.setAttribute('width',Math.max(1,bw*(d.base?0.7:0.9)));
      r.setAttribute('y',H-h); r.setAttribute('height',h); r.setAttribute('fill',colors[si]);
      r.setAttribute('fill-opacity',si?0.6:0.9);
      var t=document.createElementNS(ns,'title'); t.textContent=b[0]+(d.numeric?' .. '+b[1]:'')+': '+b[2];
      r.appendChild(t); svg.appendChild(r);});});
    plot.textContent=''; plot.appendChild(svg); td.setAttribute('data-drawn','1');
  }
  var cells=[].slice.call(document.querySelectorAll('td.chart[data-chart]'));
  // The first screenful at once; the rest when scrolled into view.
  cells.slice(0,24).forEach(draw);
  if('IntersectionObserver' in window){
    var io=new IntersectionObserver(function(es){es.forEach(function(e){if(e.isIntersecting){draw(e.target);io.unobserve(e.target);}});},{rootMargin:'200px'});
    cells.slice(24).forEach(function(c){io.observe(c);});
  } else { cells.slice(24).forEach(draw); }
  function redraw(){cells.forEach(function(c){if(c.getAttribute('data-drawn')){draw(c);}});}
  document.querySelectorAll('button[data-toggle]').forEach(function(b){b.addEventListener('click',function(){
    if(b.getAttribute('data-toggle')==='log'){log=!log;}else{percent=!percent;}
    b.setAttribute('aria-pressed',String(b.getAttribute('data-toggle')==='log'?log:percent)); redraw();});});
  document.querySelectorAll('button[data-sort]').forEach(function(b){b.addEventListener('click',function(){
    var key=b.getAttribute('data-sort');
    document.querySelectorAll('table.features tbody').forEach(function(tb){
      var rows=[].slice.call(tb.querySelectorAll('tr.feature'));
      rows.sort(function(x,y){
        if(key==='name'){return x.getAttribute('data-name').localeCompare(y.getAttribute('data-name'));}
        return (parseFloat(y.getAttribute('data-'+key))||-1)-(parseFloat(x.getAttribute('data-'+key))||-1);});
      rows.forEach(function(r){tb.appendChild(r);});});});});
  var filter=document.getElementById('filter');
  if(filter){filter.addEventListener('input',function(){
    var q=filter.value.toLowerCase();
    document.querySelectorAll('tr.feature').forEach(function(r){
      r.style.display=r.getAttribute('data-name').toLowerCase().indexOf(q)>=0?'':'none';});});}
})();
"#;

fn chart_cell(f: &FeatureRow) -> String {
    let mut data = format!(
        "{{\"numeric\":{},\"bars\":{}",
        f.numeric,
        bars_json(&f.bars)
    );
    if let Some(b) = &f.baseline_bars {
        let _ = write!(data, ",\"base\":{}", bars_json(b));
    }
    data.push('}');
    // Under the chart, as text (readable without JavaScript): the
    // quantiles, and the values-per-example histogram of list features.
    let mut extra = String::new();
    if f.quantiles.len() > 1 {
        let q: Vec<String> = f.quantiles.iter().map(|v| num(*v)).collect();
        let _ = write!(
            extra,
            "<details class=\"quantiles\"><summary>quantiles</summary>{}</details>",
            q.join(" · ")
        );
    }
    if let Some(v) = &f.valency_bars {
        let items: Vec<String> = v
            .iter()
            .map(|(low, high, count)| format!("{}–{}: {}", escape(low), num(*high), num(*count)))
            .collect();
        let _ = write!(
            extra,
            "<details class=\"valency\"><summary>values per example</summary>{}</details>",
            items.join("<br>")
        );
    }
    format!(
        "<td class=\"chart\" data-chart=\"{}\"><div class=\"plot\"></div>{extra}</td>",
        escape(&data)
    )
}

fn drift_cell(f: &FeatureRow) -> String {
    if f.drift.is_empty() {
        return "<td class=\"drift\"></td>".into();
    }
    let parts: Vec<String> = f
        .drift
        .iter()
        .map(|d| {
            let threshold = d
                .threshold
                .map(|t| format!(" (threshold {})", num(t)))
                .unwrap_or_default();
            let verdict = if d.drifted { " drifted" } else { "" };
            format!(
                "{} {}{threshold}{verdict}",
                escape(&d.measure),
                num(d.value)
            )
        })
        .collect();
    let class = if f.drifted() {
        "drift drifted"
    } else {
        "drift"
    };
    format!("<td class=\"{class}\">{}</td>", parts.join("<br>"))
}

fn feature_tr(out: &mut String, f: &FeatureRow, id: &str) {
    let anomalous = !f.anomalies.is_empty();
    let drift = f.drift_value().map(json_num).unwrap_or_default();
    let _ = write!(
        out,
        "<tr class=\"feature{}\" id=\"{id}\" data-name=\"{}\" data-drift=\"{drift}\" data-missing=\"{}\">",
        if anomalous { " anomalous" } else { "" },
        escape(&f.name),
        f.missing
    );
    let flag = |on: bool| if on { " flag" } else { "" };
    let title = if anomalous {
        format!(" title=\"{}\"", escape(&f.anomalies.join(", ")))
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<td class=\"name{}\"{title}>{}</td><td class=\"kind\">{}</td><td class=\"count\">{}</td><td class=\"missing{}\">{}</td>",
        flag(anomalous),
        escape(&f.name),
        escape(&f.kind),
        num(f.count),
        flag(anomalous && f.missing > 0.0),
        pct(f.missing)
    );
    if f.numeric {
        let z = f.zeros.map(pct).unwrap_or_default();
        let _ = write!(out, "<td class=\"zeros\">{z}</td>");
        let s = f.summary.unwrap_or([f64::NAN; 5]);
        for (class, v) in ["mean", "std", "min", "median", "max"].iter().zip(s) {
            let _ = write!(out, "<td class=\"{class}\">{}</td>", num(v));
        }
    } else {
        let (top, freq) = f
            .top
            .as_ref()
            .map(|(v, c)| (escape(v), num(*c)))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<td class=\"unique\">{}</td><td class=\"top{}\">{top}</td><td class=\"freq\">{freq}</td><td class=\"avglen\">{}</td>",
            f.unique.map(|u| u.to_string()).unwrap_or_default(),
            flag(anomalous),
            f.avg_length.map(num).unwrap_or_default()
        );
    }
    let (lo, hi) = f.values_per_example;
    let _ = write!(
        out,
        "<td class=\"valency\">{}</td>",
        if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}–{hi}")
        }
    );
    out.push_str(&drift_cell(f));
    out.push_str(&chart_cell(f));
    out.push_str("</tr>\n");
}

fn table(out: &mut String, split: &SplitReport, si: usize, numeric: bool, compare: bool) {
    let rows: Vec<(usize, &FeatureRow)> = split
        .features
        .iter()
        .enumerate()
        .filter(|(_, f)| f.numeric == numeric)
        .collect();
    if rows.is_empty() {
        return;
    }
    let (class, heading, columns) = if numeric {
        (
            "numeric",
            "Numeric features",
            "<th>zeros</th><th>mean</th><th>std</th><th>min</th><th>median</th><th>max</th>",
        )
    } else {
        (
            "categorical",
            "Categorical features",
            "<th>unique</th><th class=\"top\">top value</th><th>freq</th><th>avg length</th>",
        )
    };
    let chart = if compare {
        "chart <span class=\"legend\"><span style=\"background:#3b6fb6\"></span>this<span style=\"background:#e08a1e\"></span>baseline</span>"
    } else {
        "chart"
    };
    let _ = write!(
        out,
        "<h3>{heading} ({})</h3>\n<div class=\"scroll\"><table class=\"features {class}\"><thead><tr><th class=\"name\">feature</th><th>type</th><th>count</th><th>missing</th>{columns}<th>values/example</th><th>drift</th><th>{chart}</th></tr></thead><tbody>\n",
        rows.len()
    );
    for (fi, f) in rows {
        feature_tr(out, f, &format!("f-{si}-{fi}"));
    }
    out.push_str("</tbody></table></div>\n");
}

/// The page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = escape(&report.title);
    let compare = report.splits.iter().any(|s| s.baseline.is_some());
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\"><title>{title}</title><style>{STYLE}</style></head>\n<body data-compare=\"{}\">\n<h1>{title}</h1>\n",
        u8::from(compare)
    );
    // Header: examples per split, features by type, anomalies, drifted share.
    out.push_str("<section id=\"summary\"><dl>");
    for s in &report.splits {
        let _ = write!(
            out,
            "<dt>examples in {}</dt><dd class=\"examples\">{}</dd>",
            escape(&s.name),
            num(s.examples)
        );
        if let Some((b, n)) = &s.baseline {
            let _ = write!(
                out,
                "<dt>baseline {}</dt><dd class=\"baseline-examples\">{}</dd>",
                escape(b),
                num(*n)
            );
        }
    }
    if let Some(first) = report.splits.first() {
        let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
        for f in &first.features {
            *kinds.entry(f.kind.as_str()).or_default() += 1;
        }
        for (k, n) in kinds {
            let _ = write!(
                out,
                "<dt>{k} features</dt><dd class=\"kind-count\">{n}</dd>"
            );
        }
        if first.baseline.is_some() {
            let compared = first
                .features
                .iter()
                .filter(|f| !f.drift.is_empty())
                .count();
            let drifted = first.features.iter().filter(|f| f.drifted()).count();
            let _ = write!(
                out,
                "<dt>features drifted</dt><dd class=\"drifted\">{drifted} of {compared}</dd>"
            );
        }
    }
    let _ = writeln!(
        out,
        "<dt>anomalies</dt><dd class=\"anomaly-count\">{}</dd></dl></section>",
        report.anomalies.len()
    );
    out.push_str("<div class=\"controls\"><input id=\"filter\" type=\"search\" placeholder=\"filter features\" aria-label=\"filter features\"> sort: <button data-sort=\"name\">name</button><button data-sort=\"drift\">drift</button><button data-sort=\"missing\">missing</button> charts: <button data-toggle=\"log\" aria-pressed=\"false\">log scale</button><button data-toggle=\"percent\">percent</button></div>\n");
    for (si, s) in report.splits.iter().enumerate() {
        let vs = s
            .baseline
            .as_ref()
            .map(|(b, _)| format!(" vs {}", escape(b)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<section class=\"split\" id=\"split-{si}\" data-split=\"{}\"><h2>{}{vs}</h2>",
            escape(&s.name),
            escape(&s.name)
        );
        table(&mut out, s, si, true, compare);
        table(&mut out, s, si, false, compare);
        out.push_str("</section>\n");
    }
    out.push_str("<section id=\"anomalies\"><h2>Anomalies</h2><ul>");
    for a in &report.anomalies {
        // Link to the feature's row in the first split that has it.
        let target = report.splits.iter().enumerate().find_map(|(si, s)| {
            s.features
                .iter()
                .position(|f| f.name == a.feature)
                .map(|fi| format!("#f-{si}-{fi}"))
        });
        let name = if a.feature.is_empty() {
            "(dataset)".to_string()
        } else {
            escape(&a.feature)
        };
        let link = match target {
            Some(t) => format!("<a href=\"{t}\">{name}</a>"),
            None => name,
        };
        let _ = write!(
            out,
            "<li class=\"anomaly\" data-feature=\"{}\">{link} <span class=\"sev-{}\">{}</span> <code>{}</code> {}</li>",
            escape(&a.feature),
            escape(&a.severity),
            escape(&a.severity),
            escape(&a.types.join(", ")),
            escape(&a.description)
        );
    }
    if report.anomalies.is_empty() {
        out.push_str("<li>none</li>");
    }
    out.push_str("</ul></section>\n");
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_user_data() {
        let s = escape("</script><img src=x onerror=alert(1)>\"'&");
        assert_eq!(
            s,
            "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(1234567.0), "1234567");
        assert_eq!(num(0.00001234), "1.234e-5");
        assert_eq!(pct(0.1234), "12.3%");
    }
}
