//! `tfidf` end to end: generated documents through ExampleGen, then
//! `compute_and_apply_vocabulary` + `tfidf` through the engine into
//! tf.Examples, against a naive reference of TF-Transform's definitions
//! (vocabulary order, OOV hashing, tf × smoothed idf over the train split).

use std::collections::{BTreeMap, HashMap, HashSet};

use weir_datasets::split::SplitConfig;
use weir_engine::{ExampleGenBuilder, TransformBuilder};
use weir_tests::{decode, read_records, runtime, Values};
use weir_udfs::transform::hash_bucket;

const WORDS: [&str; 40] = [
    "the", "of", "and", "a", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on",
    "are", "as", "with", "his", "they", "at", "be", "this", "have", "from", "or", "one", "had",
    "by", "word", "but", "not", "what", "all", "were", "we", "when", "your", "can", "said",
    "there",
];

/// Deterministic documents of 1 to 12 words, skewed towards early words.
fn documents(n: usize) -> Vec<String> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let len = 1 + (next() % 12) as usize;
            (0..len)
                .map(|_| {
                    let a = (next() % WORDS.len() as u64) as usize;
                    let b = (next() % WORDS.len() as u64) as usize;
                    WORDS[a.min(b)]
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// (id, text) of every example in an ExampleGen split folder.
fn split_docs(dir: &std::path::Path) -> Vec<(i64, String)> {
    read_records(dir)
        .iter()
        .map(|r| {
            let ex = decode(r);
            let Some(Values::Int(id)) = ex.get("id") else {
                panic!("id missing")
            };
            let Some(Values::Bytes(text)) = ex.get("text") else {
                panic!("text missing")
            };
            (id[0], String::from_utf8(text[0].clone()).unwrap())
        })
        .collect()
}

const TOP_K: usize = 25;
const OOV: u64 = 3;
const VOCAB_SIZE: usize = TOP_K + OOV as usize;

/// TF-Transform's tf-idf of every document, analyzed over `train`.
fn reference(
    train: &[(i64, String)],
    all: &[(i64, String)],
) -> BTreeMap<i64, (Vec<i64>, Vec<f32>)> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for (_, t) in train {
        for w in t.split(' ') {
            *counts.entry(w).or_default() += 1;
        }
    }
    let mut ranked: Vec<(&str, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.as_bytes().cmp(a.0.as_bytes())));
    ranked.truncate(TOP_K);
    let vocab: HashMap<&str, i64> = ranked
        .iter()
        .enumerate()
        .map(|(i, (w, _))| (*w, i as i64))
        .collect();
    let id = |w: &str| {
        vocab
            .get(w)
            .copied()
            .unwrap_or(vocab.len() as i64 + hash_bucket(w.as_bytes(), OOV) as i64)
    };
    let mut df = vec![0u64; VOCAB_SIZE];
    for (_, t) in train {
        let ids: HashSet<i64> = t.split(' ').map(id).collect();
        for i in ids {
            df[i as usize] += 1;
        }
    }
    let n = train.len() as f64;
    all.iter()
        .map(|(key, t)| {
            let ids: Vec<i64> = t.split(' ').map(id).collect();
            let mut tf: BTreeMap<i64, u64> = BTreeMap::new();
            for i in &ids {
                *tf.entry(*i).or_default() += 1;
            }
            let weights = tf
                .iter()
                .map(|(i, c)| {
                    let idf = 1.0 + ((n + 1.0) / (df[*i as usize] as f64 + 1.0)).ln();
                    (*c as f64 / ids.len() as f64 * idf) as f32
                })
                .collect();
            (*key, (tf.keys().copied().collect(), weights))
        })
        .collect()
}

#[test]
fn tfidf_of_vocabulary_ids_matches_tf_transform_definitions() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("docs.csv");
    let mut text = String::from("id,text\n");
    for (i, d) in documents(3000).iter().enumerate() {
        text.push_str(&format!("{i},{d}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let eg = tmp.path().join("eg");
    ExampleGenBuilder::new(csv.to_string_lossy(), &eg)
        .with_splits("train=2,eval=1".parse::<SplitConfig>().unwrap())
        .execute()
        .unwrap();
    let sql = format!(
        "SELECT id, \
         tfidf(compute_and_apply_vocabulary(string_to_array(text, ' '), {TOP_K}, 0, {OOV}), {VOCAB_SIZE})['index'] AS text_index, \
         tfidf(compute_and_apply_vocabulary(string_to_array(text, ' '), {TOP_K}, 0, {OOV}), {VOCAB_SIZE})['weight'] AS text_weight \
         FROM input"
    );
    let out = tmp.path().join("tx");
    let summary = runtime()
        .block_on(TransformBuilder::new(sql, &eg, &out).execute())
        .unwrap();
    let artifact = summary.artifact.expect("the artifact's description");
    assert_eq!(
        artifact.assets.len(),
        1,
        "identical calls share one vocabulary"
    );
    assert_eq!(artifact.analyzers.len(), 2, "one vocabulary and one tfidf");

    let train = split_docs(&eg.join("Split-train"));
    let eval = split_docs(&eg.join("Split-eval"));
    assert!(
        train.len() > 1500 && eval.len() > 700,
        "{} / {}",
        train.len(),
        eval.len()
    );
    let all: Vec<_> = train.iter().chain(eval.iter()).cloned().collect();
    let want = reference(&train, &all);

    let mut seen = 0;
    for split in ["Split-train", "Split-eval"] {
        for r in read_records(&out.join("transformed_examples").join(split)) {
            let ex = decode(&r);
            let (Some(Values::Int(id)), Some(Values::Int(index)), Some(Values::Float(weight))) =
                (ex.get("id"), ex.get("text_index"), ex.get("text_weight"))
            else {
                panic!("unexpected example {ex:?}")
            };
            let (want_index, want_weight) = &want[&id[0]];
            assert_eq!(index, want_index, "document {}", id[0]);
            assert_eq!(weight.len(), want_weight.len());
            for (a, b) in weight.iter().zip(want_weight) {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                    "document {}: {a} vs {b}",
                    id[0]
                );
            }
            seen += 1;
        }
    }
    assert_eq!(seen, 3000);
}
