//! Building the ONNX graph from the artifact's output expressions.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, Operator};
use prost::Message;
use weir_udfs::transform::hash_bucket;

use super::proto::*;
use crate::{Result, TransformError};

/// ONNX opset of the default domain (19: `Equal` on strings).
pub const OPSET: i64 = 19;
/// Opset of `ai.onnx.ml`.
pub const ML_OPSET: i64 = 2;

fn unsupported(what: impl std::fmt::Display) -> TransformError {
    TransformError::Onnx(what.to_string())
}

/// ONNX element type of an Arrow type.
fn elem_of(t: &DataType) -> Result<i32> {
    Ok(match t {
        DataType::Float32 => elem::FLOAT,
        DataType::Float64 => elem::DOUBLE,
        DataType::Int8 => elem::INT8,
        DataType::Int16 => elem::INT16,
        DataType::Int32 => elem::INT32,
        DataType::Int64 => elem::INT64,
        DataType::UInt8 => elem::UINT8,
        DataType::UInt16 => elem::UINT16,
        DataType::UInt32 => elem::UINT32,
        DataType::UInt64 => elem::UINT64,
        DataType::Boolean => elem::BOOL,
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView => elem::STRING,
        other => return Err(unsupported(format!("no ONNX tensor type for {other}"))),
    })
}

fn tensor_type(elem_type: i32) -> TypeProto {
    TypeProto {
        tensor_type: Some(TensorTypeProto {
            elem_type,
            shape: Some(TensorShapeProto {
                dim: vec![Dimension {
                    dim_param: "N".into(),
                }],
            }),
        }),
    }
}

/// A value in the graph: its name and ONNX element type.
#[derive(Debug, Clone)]
struct Value {
    name: String,
    elem: i32,
}

#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    next: usize,
    /// Raw inputs used: name → element type.
    inputs: BTreeMap<String, i32>,
    input_types: BTreeMap<String, DataType>,
}

fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: attribute_type::INT,
        i,
        ..Default::default()
    }
}

impl Graph {
    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>, elem: i32) -> Value {
        self.node_in(op, "", inputs, attrs, elem)
    }

    fn node_in(
        &mut self,
        op: &str,
        domain: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
        elem: i32,
    ) -> Value {
        self.next += 1;
        let name = format!("{}_{}", op.to_ascii_lowercase(), self.next);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![name.clone()],
            name: name.clone(),
            op_type: op.into(),
            attribute,
            domain: domain.into(),
        });
        Value { name, elem }
    }

    fn constant(&mut self, t: TensorProto) -> Value {
        let elem = t.data_type;
        let attr = AttributeProto {
            name: "value".into(),
            r#type: attribute_type::TENSOR,
            t: Some(t),
            ..Default::default()
        };
        self.node("Constant", &[], vec![attr], elem)
    }

    fn scalar(&mut self, v: &ScalarValue) -> Result<Value> {
        let elem = elem_of(&v.data_type())?;
        if v.is_null() {
            return Err(unsupported(format!(
                "a NULL literal ({v}) has no ONNX value"
            )));
        }
        let mut t = TensorProto {
            data_type: elem,
            ..Default::default()
        };
        match elem {
            elem::FLOAT => t.float_data.push(f32::try_from(v.clone())?),
            elem::DOUBLE => t.double_data.push(f64::try_from(v.clone())?),
            elem::STRING => match v.cast_to(&DataType::Binary)? {
                ScalarValue::Binary(Some(b)) => t.string_data.push(b),
                _ => unreachable!("non-null cast"),
            },
            elem::BOOL => t
                .int32_data
                .push(i32::from(v == &ScalarValue::Boolean(Some(true)))),
            elem::UINT64 => t.uint64_data.push(u64::try_from(v.clone())?),
            elem::INT64 | elem::UINT32 => match v.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(i)) => t.int64_data.push(i),
                _ => unreachable!("non-null cast"),
            },
            _ => match v.cast_to(&DataType::Int32)? {
                ScalarValue::Int32(Some(i)) => t.int32_data.push(i),
                _ => unreachable!("non-null cast"),
            },
        }
        Ok(self.constant(t))
    }

    fn i64s(&mut self, values: &[i64]) -> Value {
        self.constant(TensorProto {
            dims: vec![values.len() as i64],
            data_type: elem::INT64,
            int64_data: values.to_vec(),
            ..Default::default()
        })
    }

    fn cast(&mut self, v: &Value, to: i32) -> Value {
        if v.elem == to || (v.elem == elem::STRING && to == elem::STRING) {
            return v.clone();
        }
        self.node("Cast", &[&v.name], vec![attr_int("to", to as i64)], to)
    }

    fn binary(&mut self, op: &str, a: &Value, b: &Value, elem: i32) -> Value {
        self.node(op, &[&a.name, &b.name], vec![], elem)
    }

    /// The input's "missing" test, per the module docs.
    fn missing(&mut self, input: &Value) -> Result<Value> {
        Ok(match input.elem {
            elem::FLOAT | elem::DOUBLE => self.node("IsNaN", &[&input.name], vec![], elem::BOOL),
            elem::STRING => {
                let empty = self.scalar(&ScalarValue::Utf8(Some(String::new())))?;
                self.binary("Equal", input, &empty, elem::BOOL)
            }
            elem::INT64 => {
                let min = self.scalar(&ScalarValue::Int64(Some(i64::MIN)))?;
                self.binary("Equal", input, &min, elem::BOOL)
            }
            other => {
                return Err(unsupported(format!(
                    "no missing-value convention for ONNX type {other}"
                )))
            }
        })
    }

    /// A bool value that is true where `e` is NULL in weir, or None when
    /// `e` is never NULL.
    fn null_mask(&mut self, e: &Expr) -> Result<Option<Value>> {
        Ok(match e {
            Expr::Column(c) => {
                let v = self.input(&c.name)?;
                Some(self.missing(&v)?)
            }
            Expr::Literal(v, _) if v.is_null() => {
                Some(self.scalar(&ScalarValue::Boolean(Some(true)))?)
            }
            Expr::Literal(..) => None,
            Expr::Alias(a) => self.null_mask(&a.expr)?,
            Expr::Cast(c) => self.null_mask(&c.expr)?,
            Expr::TryCast(c) => self.null_mask(&c.expr)?,
            Expr::Negative(x) | Expr::Not(x) => self.null_mask(x)?,
            Expr::IsNull(_) | Expr::IsNotNull(_) => None,
            Expr::BinaryExpr(b) if matches!(b.op, Operator::And | Operator::Or) => {
                // SQL's three-valued AND/OR: approximated as NULL when both
                // sides may be NULL (a definite side decides in most uses).
                let (l, r) = (self.null_mask(&b.left)?, self.null_mask(&b.right)?);
                match (l, r) {
                    (Some(l), Some(r)) => Some(self.binary("And", &l, &r, elem::BOOL)),
                    _ => None,
                }
            }
            Expr::BinaryExpr(b) => {
                let (l, r) = (self.null_mask(&b.left)?, self.null_mask(&b.right)?);
                match (l, r) {
                    (Some(l), Some(r)) => Some(self.binary("Or", &l, &r, elem::BOOL)),
                    (Some(m), None) | (None, Some(m)) => Some(m),
                    (None, None) => None,
                }
            }
            Expr::ScalarFunction(f) if f.name() == "coalesce" => {
                let mut mask: Option<Value> = Some(self.scalar(&ScalarValue::Boolean(Some(true)))?);
                for a in &f.args {
                    match (mask, self.null_mask(a)?) {
                        (Some(m), Some(n)) => mask = Some(self.binary("And", &m, &n, elem::BOOL)),
                        _ => {
                            mask = None;
                            break;
                        }
                    }
                }
                mask
            }
            Expr::ScalarFunction(f) => match f.args.first() {
                Some(a) => self.null_mask(a)?,
                None => None,
            },
            // CASE yields NULL only without ELSE; the exported outputs
            // are dense, so treat CASE as never NULL.
            _ => None,
        })
    }

    fn input(&mut self, name: &str) -> Result<Value> {
        let t = self
            .input_types
            .get(name)
            .ok_or_else(|| unsupported(format!("column '{name}' is not a raw input")))?;
        let elem = elem_of(t)?;
        self.inputs.insert(name.to_string(), elem);
        Ok(Value {
            name: name.to_string(),
            elem,
        })
    }

    fn list_literal(e: &Expr) -> Option<datafusion::arrow::array::ArrayRef> {
        match e {
            Expr::Literal(ScalarValue::List(l), _) if l.len() == 1 => Some(l.value(0)),
            _ => None,
        }
    }

    fn literal_i64(e: &Expr, default: i64) -> Result<i64> {
        match e {
            Expr::Literal(v, _) => match v.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(i)) => Ok(i),
                _ => Ok(default),
            },
            Expr::Cast(c) => Self::literal_i64(&c.expr, default),
            _ => Err(unsupported(format!("{e} is not a constant"))),
        }
    }

    fn expr(&mut self, e: &Expr, notes: &mut Vec<String>) -> Result<Value> {
        Ok(match e {
            Expr::Alias(a) => self.expr(&a.expr, notes)?,
            Expr::Column(c) => self.input(&c.name)?,
            Expr::Literal(v, _) => self.scalar(v)?,
            Expr::Cast(c) => {
                let to = c.field.data_type();
                self.cast_expr(&c.expr, to, notes)?
            }
            Expr::TryCast(c) => {
                let to = c.field.data_type();
                self.cast_expr(&c.expr, to, notes)?
            }
            Expr::Negative(x) => {
                let v = self.expr(x, notes)?;
                self.node("Neg", &[&v.name], vec![], v.elem)
            }
            Expr::Not(x) => {
                let v = self.expr(x, notes)?;
                self.node("Not", &[&v.name], vec![], elem::BOOL)
            }
            Expr::IsNull(x) => self.is_null(x, false)?,
            Expr::IsNotNull(x) => self.is_null(x, true)?,
            Expr::BinaryExpr(b) => {
                let l = self.expr(&b.left, notes)?;
                let r = self.expr(&b.right, notes)?;
                let (op, out, negate) = match b.op {
                    Operator::Plus => ("Add", l.elem, false),
                    Operator::Minus => ("Sub", l.elem, false),
                    Operator::Multiply => ("Mul", l.elem, false),
                    Operator::Divide => ("Div", l.elem, false),
                    Operator::Eq => ("Equal", elem::BOOL, false),
                    Operator::NotEq => ("Equal", elem::BOOL, true),
                    Operator::Lt => ("Less", elem::BOOL, false),
                    Operator::LtEq => ("LessOrEqual", elem::BOOL, false),
                    Operator::Gt => ("Greater", elem::BOOL, false),
                    Operator::GtEq => ("GreaterOrEqual", elem::BOOL, false),
                    Operator::And => ("And", elem::BOOL, false),
                    Operator::Or => ("Or", elem::BOOL, false),
                    other => return Err(unsupported(format!("operator {other}"))),
                };
                if l.elem != r.elem {
                    return Err(unsupported(format!(
                        "{e}: operand types differ after coercion"
                    )));
                }
                let v = self.binary(op, &l, &r, out);
                if negate {
                    self.node("Not", &[&v.name], vec![], elem::BOOL)
                } else {
                    v
                }
            }
            Expr::Case(c) => {
                let mut branches = Vec::new();
                for (when, then) in &c.when_then_expr {
                    let cond = match &c.expr {
                        Some(base) => {
                            let eq = Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr::new(
                                base.clone(),
                                Operator::Eq,
                                when.clone(),
                            ));
                            self.condition(&eq, notes)?
                        }
                        None => self.condition(when, notes)?,
                    };
                    branches.push((cond, self.expr(then, notes)?));
                }
                let mut acc = match &c.else_expr {
                    Some(x) => self.expr(x, notes)?,
                    None => return Err(unsupported("CASE without ELSE can yield NULL")),
                };
                for (cond, then) in branches.into_iter().rev() {
                    acc = self.node(
                        "Where",
                        &[&cond.name, &then.name, &acc.name],
                        vec![],
                        then.elem,
                    );
                }
                acc
            }
            Expr::ScalarFunction(f) => match f.name() {
                "coalesce" => {
                    let mut acc = self.expr(f.args.last().expect("coalesce has args"), notes)?;
                    for a in f.args.iter().rev().skip(1) {
                        let v = self.expr(a, notes)?;
                        acc = match self.null_mask(a)? {
                            Some(m) => {
                                self.node("Where", &[&m.name, &acc.name, &v.name], vec![], v.elem)
                            }
                            None => v,
                        };
                    }
                    acc
                }
                "apply_buckets" => self.buckets(&f.args, notes)?,
                "apply_vocabulary" => self.vocabulary(&f.args, notes)?,
                other => return Err(unsupported(format!("function {other} has no ONNX form"))),
            },
            other => return Err(unsupported(format!("expression {other}"))),
        })
    }

    fn cast_expr(&mut self, x: &Expr, to: &DataType, notes: &mut Vec<String>) -> Result<Value> {
        let v = self.expr(x, notes)?;
        let to = elem_of(to)?;
        if (to == elem::STRING) != (v.elem == elem::STRING) {
            return Err(unsupported(format!(
                "cast of {x} between text and numbers (formats differ)"
            )));
        }
        Ok(self.cast(&v, to))
    }

    fn is_null(&mut self, x: &Expr, negate: bool) -> Result<Value> {
        let mask = match self.null_mask(x)? {
            Some(m) => m,
            None => self.scalar(&ScalarValue::Boolean(Some(false)))?,
        };
        Ok(if negate {
            self.node("Not", &[&mask.name], vec![], elem::BOOL)
        } else {
            mask
        })
    }

    /// A WHEN condition: SQL treats NULL as false.
    fn condition(&mut self, e: &Expr, notes: &mut Vec<String>) -> Result<Value> {
        let c = self.expr(e, notes)?;
        Ok(match self.null_mask(e)? {
            Some(m) => {
                let known = self.node("Not", &[&m.name], vec![], elem::BOOL);
                self.binary("And", &c, &known, elem::BOOL)
            }
            None => c,
        })
    }

    fn buckets(&mut self, args: &[Expr], notes: &mut Vec<String>) -> Result<Value> {
        let bounds = Self::list_literal(&args[1])
            .ok_or_else(|| unsupported("apply_buckets with non-constant boundaries"))?;
        let bounds =
            cast(&bounds, &DataType::Float64).map_err(datafusion::error::DataFusionError::from)?;
        let bounds: Vec<f64> = bounds.as_primitive::<Float64Type>().values().to_vec();
        let x = self.expr(&args[0], notes)?;
        let x = self.cast(&x, elem::DOUBLE);
        let last = self.scalar(&ScalarValue::Int64(Some(bounds.len() as i64)))?;
        let nan = self.node("IsNaN", &[&x.name], vec![], elem::BOOL);
        let count = if bounds.is_empty() {
            let zero = self.scalar(&ScalarValue::Int64(Some(0)))?;
            let shape = self.node("Shape", &[&x.name], vec![], elem::INT64);
            let z = self.node("Expand", &[&zero.name, &shape.name], vec![], elem::INT64);
            return Ok(z);
        } else {
            let b = self.constant(TensorProto {
                dims: vec![bounds.len() as i64],
                data_type: elem::DOUBLE,
                double_data: bounds,
                ..Default::default()
            });
            let one = self.i64s(&[1]);
            let col = self.node("Unsqueeze", &[&x.name, &one.name], vec![], elem::DOUBLE);
            let ge = self.binary("GreaterOrEqual", &col, &b, elem::BOOL);
            let ints = self.cast(&ge, elem::INT64);
            self.node(
                "ReduceSum",
                &[&ints.name, &one.name],
                vec![attr_int("keepdims", 0)],
                elem::INT64,
            )
        };
        Ok(self.node(
            "Where",
            &[&nan.name, &last.name, &count.name],
            vec![],
            elem::INT64,
        ))
    }

    fn vocabulary(&mut self, args: &[Expr], notes: &mut Vec<String>) -> Result<Value> {
        let tokens = Self::list_literal(&args[1])
            .ok_or_else(|| unsupported("apply_vocabulary with a non-constant vocabulary"))?;
        let tokens =
            cast(&tokens, &DataType::Binary).map_err(datafusion::error::DataFusionError::from)?;
        let tokens = tokens.as_binary::<i32>();
        let oov = match args.get(2) {
            Some(a) => Self::literal_i64(a, 0)?,
            None => 0,
        };
        let default = match args.get(3) {
            Some(a) => Self::literal_i64(a, -1)?,
            None => -1,
        };
        let size = tokens.len() as i64;
        let unknown = if oov > 0 {
            notes.push(format!(
                "vocabulary of {size} tokens with {oov} OOV buckets: the ONNX graph gives every \
                 out-of-vocabulary token but the empty string id {size} (the first OOV bucket); \
                 weir's apply hashes it into {size}..{}",
                size + oov - 1
            ));
            size
        } else {
            default
        };
        let x = self.expr(&args[0], notes)?;
        if x.elem != elem::STRING {
            return Err(unsupported("apply_vocabulary over a non-text value"));
        }
        let mut seen = std::collections::HashSet::new();
        let (mut keys, mut values) = (Vec::new(), Vec::new());
        for i in 0..tokens.len() {
            if seen.insert(tokens.value(i)) {
                keys.push(tokens.value(i).to_vec());
                values.push(i as i64);
            }
        }
        // The empty string is how a missing text value enters the graph
        // (and what `coalesce(x, '')` gives); TFT never puts it in a
        // vocabulary, so its OOV bucket is fixed now and exact in ONNX.
        if oov > 0 && !seen.contains(&b""[..]) {
            keys.push(Vec::new());
            values.push(size + hash_bucket(b"", oov as u64) as i64);
        }
        if keys.is_empty() {
            // An empty vocabulary: every token is unknown.
            let c = self.scalar(&ScalarValue::Int64(Some(unknown)))?;
            let shape = self.node("Shape", &[&x.name], vec![], elem::INT64);
            return Ok(self.node("Expand", &[&c.name, &shape.name], vec![], elem::INT64));
        }
        let attrs = vec![
            AttributeProto {
                name: "keys_strings".into(),
                r#type: attribute_type::STRINGS,
                strings: keys,
                ..Default::default()
            },
            AttributeProto {
                name: "values_int64s".into(),
                r#type: attribute_type::INTS,
                ints: values,
                ..Default::default()
            },
            attr_int("default_int64", unknown),
        ];
        Ok(self.node_in("LabelEncoder", "ai.onnx.ml", &[&x.name], attrs, elem::INT64))
    }
}

/// What an ONNX export reads of a transform artifact.
#[derive(Debug, Clone, Copy)]
pub struct ExportInput<'a> {
    /// The raw input's schema (one graph input per column the SQL reads).
    pub input_schema: &'a datafusion::arrow::datatypes::Schema,
    /// The transformed output's schema (one graph output per field).
    pub output_schema: &'a datafusion::arrow::datatypes::Schema,
    /// The output expressions, type-coerced by DataFusion.
    pub coerced: &'a [Expr],
    /// The transform's SQL (the graph's doc string).
    pub sql: &'a str,
}

/// The artifact's outputs as a serialized ONNX model, with notes on how
/// it differs from weir's apply; an error says what cannot be exported.
pub fn export(artifact: ExportInput<'_>) -> Result<(Vec<u8>, Vec<String>)> {
    let mut g = Graph {
        input_types: artifact
            .input_schema
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect(),
        ..Default::default()
    };
    let mut notes = vec![
        "missing values enter the graph as NaN (float inputs), -9223372036854775808 (integer \
         inputs) or the empty string (text inputs)"
            .to_string(),
    ];
    let mut outputs = Vec::new();
    for (e, field) in artifact.coerced.iter().zip(artifact.output_schema.fields()) {
        let v = g.expr(e, &mut notes).map_err(|err| match err {
            TransformError::Onnx(why) => unsupported(format!("output '{}': {why}", field.name())),
            other => other,
        })?;
        let want = elem_of(field.data_type())?;
        let v = g.cast(&v, want);
        g.nodes.push(NodeProto {
            input: vec![v.name.clone()],
            output: vec![field.name().clone()],
            name: format!("output_{}", field.name()),
            op_type: "Identity".into(),
            ..Default::default()
        });
        outputs.push(ValueInfoProto {
            name: field.name().clone(),
            r#type: Some(tensor_type(want)),
        });
    }
    let inputs = g
        .inputs
        .iter()
        .map(|(name, elem)| ValueInfoProto {
            name: name.clone(),
            r#type: Some(tensor_type(*elem)),
        })
        .collect();
    let model = ModelProto {
        ir_version: 8,
        opset_import: vec![
            OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            },
            OperatorSetIdProto {
                domain: "ai.onnx.ml".into(),
                version: ML_OPSET,
            },
        ],
        producer_name: "weir".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "weir transform: the frozen preprocessing of transform.json".into(),
        graph: Some(GraphProto {
            node: g.nodes,
            name: "weir_transform".into(),
            initializer: Vec::new(),
            doc_string: artifact.sql.to_string(),
            input: inputs,
            output: outputs,
        }),
        metadata_props: notes
            .iter()
            .enumerate()
            .map(|(i, n)| StringStringEntryProto {
                key: format!("weir.note.{i}"),
                value: n.clone(),
            })
            .collect(),
    };
    Ok((model.encode_to_vec(), notes))
}
