//! Reading a spec: splitting it into entries, each entry's options, then resolving `of=`
//! into a checked graph of panes (hidden inputs added, no cycles).
use super::*;

/// An entry as written, before `of=` is resolved.
#[derive(Debug, Default)]
pub(super) struct Entry {
    kind: Option<Kind>,
    written: String,
    name: Option<String>,
    title: Option<String>,
    dense: DenseKey,
    analyzer: Option<AnalyzerKind>,
    fusion: FusionOpts,
    of: Option<Vec<String>>,
    depth: Option<usize>,
}

/// Splits the spec into entries and reads each entry's options.
pub(super) fn split_entries(spec: &str) -> Result<Vec<Entry>, SpecError> {
    let mut entries: Vec<Entry> = Vec::new();
    for item in spec.split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let (head, rest) = match item.split_once(':') {
            Some((h, r)) => (h, Some(r)),
            None => (item, None),
        };
        let starts_entry = match Kind::parse(head.trim()) {
            Some(_) => !head.contains('='),
            None => false,
        };
        if starts_entry {
            let kind = Kind::parse(head.trim());
            entries.push(Entry {
                kind,
                written: item.to_owned(),
                ..Entry::default()
            });
            if let Some(rest) = rest {
                let entry = entries.last_mut().expect("just pushed");
                entry.option(rest)?;
            }
        } else if item.contains('=') {
            let Some(entry) = entries.last_mut() else {
                return err(format!(
                    "`{item}` is an option but no pane comes before it (start with dense, bm25, hybrid or rerank)"
                ));
            };
            if !item.starts_with("title=") && !item.starts_with("name=") {
                entry.written.push(',');
                entry.written.push_str(item);
            }
            entry.option(item)?;
        } else {
            return err(format!(
                "unknown pane kind `{item}` (choose from dense, bm25, hybrid, rerank; options are key=value)"
            ));
        }
    }
    Ok(entries)
}

impl Entry {
    fn kind(&self) -> Kind {
        self.kind.expect("entries start with a kind")
    }

    /// Reads one `key=value` (or the kind's bare shorthand).
    fn option(&mut self, item: &str) -> Result<(), SpecError> {
        let kind = self.kind();
        let Some((key, value)) = item.split_once('=') else {
            return self.shorthand(item.trim());
        };
        let (key, value) = (key.trim(), value.trim());
        let bad = |what: &str| {
            SpecError(format!(
                "{}: {key}={value}: {what}",
                self.written.split(',').next().unwrap_or_default()
            ))
        };
        if value.is_empty() && key != "title" {
            return Err(bad("the value is empty"));
        }
        match (kind, key) {
            (_, "title") => self.title = Some(value.to_owned()),
            (_, "name") => self.name = Some(value.to_owned()),
            (Kind::Dense, "model") => self.dense.model = Some(value.to_owned()),
            (Kind::Dense, "pooling") => {
                self.dense.pooling = Some(value.parse().map_err(|e: String| bad(&e))?)
            }
            (Kind::Bm25, "analyzer") => {
                self.analyzer = Some(value.parse().map_err(|e: String| bad(&e))?)
            }
            (Kind::Bm25, "decompound") => {
                let d = value.parse().map_err(|e: String| bad(&e))?;
                self.analyzer =
                    Some(match self.analyzer {
                        Some(AnalyzerKind::Morph(_)) => AnalyzerKind::Morph(d),
                        Some(AnalyzerKind::MorphBigram(_)) => AnalyzerKind::MorphBigram(d),
                        _ => return Err(bad(
                            "decompound= follows a morph analyzer (bm25:morph,decompound=mixed)",
                        )),
                    });
            }
            (Kind::Hybrid | Kind::Rerank, "of") => {
                self.of = Some(value.split('+').map(|s| s.trim().to_owned()).collect())
            }
            (Kind::Hybrid | Kind::Rerank, "depth") => {
                self.depth = Some(positive(value).map_err(|e| bad(&e))?)
            }
            (Kind::Hybrid, "method") if value == "server" => self.fusion.server = true,
            (Kind::Hybrid, "method") => {
                self.fusion.method = Some(value.parse().map_err(|e: String| bad(&e))?)
            }
            (Kind::Hybrid, "k") => self.fusion.k = Some(non_negative(value).map_err(|e| bad(&e))?),
            (Kind::Hybrid, "weights") => {
                let w: Result<Vec<f64>, String> = value.split('+').map(non_negative).collect();
                self.fusion.weights = Some(w.map_err(|e| bad(&e))?);
            }
            (Kind::Hybrid, "alpha") => {
                let a = non_negative(value).map_err(|e| bad(&e))?;
                if a > 1.0 {
                    return Err(bad("alpha is the dense weight, from 0 to 1"));
                }
                self.fusion.alpha = Some(a);
            }
            (Kind::Hybrid, "norm") => {
                self.fusion.norm = Some(value.parse().map_err(|e: String| bad(&e))?)
            }
            _ => {
                return Err(bad(&format!(
                    "{kind} takes {}",
                    match kind {
                        Kind::Dense => "model=, pooling=, title=, name=",
                        Kind::Bm25 => "analyzer=, decompound=, title=, name=",
                        Kind::Hybrid =>
                            "of=, method=, k=, depth=, weights=, alpha=, norm=, title=, name=",
                        Kind::Rerank => "of=, depth=, title=, name=",
                    }
                )))
            }
        }
        Ok(())
    }

    /// `dense:MODEL`, `bm25:ANALYZER`, `hybrid:rrf|convex|server`.
    fn shorthand(&mut self, value: &str) -> Result<(), SpecError> {
        match self.kind() {
            Kind::Hybrid if value == "server" => self.fusion.server = true,
            Kind::Dense => self.dense.model = Some(value.to_owned()),
            Kind::Bm25 => {
                self.analyzer = Some(
                    value
                        .parse()
                        .map_err(|e: String| SpecError(format!("{}: {e}", self.written)))?,
                )
            }
            Kind::Hybrid => {
                self.fusion.method = Some(
                    value
                        .parse()
                        .map_err(|e: String| SpecError(format!("{}: {e}", self.written)))?,
                )
            }
            Kind::Rerank => {
                return err(format!(
                    "{}: rerank takes key=value options (of=, depth=, title=, name=)",
                    self.written
                ))
            }
        }
        Ok(())
    }

    fn title(&self) -> String {
        if let Some(t) = &self.title {
            return t.clone();
        }
        // Only what sets the title apart matters here; inputs are resolved later.
        let retriever = match self.kind() {
            Kind::Dense => Retriever::Dense(self.dense.clone()),
            Kind::Bm25 => Retriever::Bm25(self.analyzer),
            Kind::Hybrid => Retriever::Fusion {
                of: Vec::new(),
                opts: self.fusion.clone(),
            },
            Kind::Rerank => Retriever::Rerank {
                of: PaneId(0),
                depth: self.depth,
            },
        };
        retriever.default_title()
    }
}

fn positive(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("must be a whole number >= 1".into()),
    }
}

fn non_negative(value: &str) -> Result<f64, String> {
    match value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{value}` must be a number >= 0")),
    }
}

/// Names the panes, resolves `of=`, adds hidden inputs and checks the graph.
pub(super) fn resolve(entries: Vec<Entry>) -> Result<Panes, SpecError> {
    let mut panes = unwired(&entries)?;
    // Fusions first: a rerank's default input is the first hybrid.
    let order = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind() == Kind::Hybrid)
        .chain(
            entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.kind() == Kind::Rerank),
        )
        .map(|(i, _)| i)
        .collect::<Vec<_>>();
    for i in order {
        let e = &entries[i];
        let inputs = match &e.of {
            Some(names) => names
                .iter()
                .map(|n| lookup(&panes, n, &e.written))
                .collect::<Result<Vec<_>, _>>()?,
            None => default_inputs(&mut panes, e.kind()),
        };
        let kinds = panes_kinds(&panes, &inputs);
        wire(&mut panes[i].retriever, inputs, &kinds, &e.written)?;
    }
    let mut resolved = Panes { panes };
    // A fusion's default title names its inputs when the spec has another pane of one of
    // their kinds: "Hybrid (RRF)" alone would not say which dense list it read.
    for (i, e) in entries.iter().enumerate() {
        if e.title.is_none() && e.kind() == Kind::Hybrid {
            let id = PaneId(i as u8);
            resolved.panes[i].title = resolved.default_title(id, &resolved.get(id).retriever);
        }
    }
    for id in resolved.ids() {
        if resolved.reaches(id, id, &mut Vec::new()) {
            return err(format!(
                "`{}` reads itself through of=",
                resolved.get(id).name
            ));
        }
    }
    Ok(resolved)
}

/// One pane per entry, named, with fusions and reranks not yet connected to their inputs
/// (every pane needs its id first).
fn unwired(entries: &[Entry]) -> Result<Vec<Pane>, SpecError> {
    let mut panes: Vec<Pane> = Vec::new();
    for e in entries {
        let name = e.name.clone().unwrap_or_else(|| e.written.clone());
        if panes.iter().any(|p| p.name == name) {
            return err(format!(
                "two panes are named `{name}`; give one of them name=…"
            ));
        }
        let retriever = match e.kind() {
            Kind::Dense => Retriever::Dense(e.dense.clone()),
            Kind::Bm25 => Retriever::Bm25(e.analyzer),
            // Inputs are filled in by `wire`, once every pane has its id.
            Kind::Hybrid => Retriever::Fusion {
                of: Vec::new(),
                opts: FusionOpts {
                    depth: e.depth,
                    ..e.fusion.clone()
                },
            },
            Kind::Rerank => Retriever::Rerank {
                of: PaneId(0),
                depth: e.depth,
            },
        };
        panes.push(Pane {
            name,
            title: e.title(),
            retriever,
            shown: true,
        });
    }
    Ok(panes)
}

/// Connects a fusion or rerank (written as `written`) to `inputs`, of kinds `kinds`, after
/// checking that they suit it.
fn wire(
    retriever: &mut Retriever,
    inputs: Vec<PaneId>,
    kinds: &[Kind],
    written: &str,
) -> Result<(), SpecError> {
    match retriever {
        Retriever::Fusion { of, opts } => {
            if inputs.len() < 2
                || inputs
                    .iter()
                    .any(|x| inputs.iter().filter(|y| *y == x).count() > 1)
            {
                return err(format!(
                    "{written}: a fusion reads two or more different panes (of=A+B)"
                ));
            }
            if opts.server {
                server_fusion_ok(kinds, opts, written)?;
            }
            if let Some(w) = &opts.weights {
                if w.len() != inputs.len() {
                    return err(format!(
                        "{written}: weights= gives {} weights for {} inputs",
                        w.len(),
                        inputs.len()
                    ));
                }
                if w.iter().all(|&w| w == 0.0) {
                    return err(format!("{written}: every weight is 0; keep one above 0"));
                }
            }
            *of = inputs;
        }
        Retriever::Rerank { of, .. } => {
            let [one] = inputs[..] else {
                return err(format!("{written}: rerank reads one pane (of=NAME)"));
            };
            *of = one;
        }
        _ => unreachable!("only fusions and reranks are resolved here"),
    }
    Ok(())
}

impl Panes {
    /// Whether `from`'s inputs lead back to `target`.
    fn reaches(&self, from: PaneId, target: PaneId, seen: &mut Vec<PaneId>) -> bool {
        for input in self.get(from).retriever.inputs() {
            if input == target {
                return true;
            }
            if !seen.contains(&input) {
                seen.push(input);
                if self.reaches(input, target, seen) {
                    return true;
                }
            }
        }
        false
    }
}

fn panes_kinds(panes: &[Pane], ids: &[PaneId]) -> Vec<Kind> {
    ids.iter().map(|id| panes[id.index()].kind()).collect()
}

/// Milvus's RRF fuses one dense and one BM25 list, unweighted, by rank only.
fn server_fusion_ok(kinds: &[Kind], opts: &FusionOpts, entry: &str) -> Result<(), SpecError> {
    if !matches!(kinds, [Kind::Dense, Kind::Bm25] | [Kind::Bm25, Kind::Dense]) {
        return err(format!(
            "{entry}: Milvus's RRF fuses one dense and one BM25 pane (of=DENSE+BM25)"
        ));
    }
    if opts.weights.is_some() || opts.alpha.is_some() || opts.norm.is_some() {
        return err(format!(
            "{entry}: Milvus's RRF takes no weights=, alpha= or norm= (it is unweighted RRF; \
             use bigyo's own hybrid for those)"
        ));
    }
    if opts.method == Some(FusionMethod::Convex) {
        return err(format!("{entry}: server and convex exclude each other"));
    }
    if opts.k.is_some_and(|k| k.fract() != 0.0 || k < 1.0) {
        return err(format!(
            "{entry}: Milvus's RRF constant k is a whole number >= 1"
        ));
    }
    Ok(())
}

fn lookup(panes: &[Pane], name: &str, entry: &str) -> Result<PaneId, SpecError> {
    match panes.iter().position(|p| p.name == name) {
        Some(i) => Ok(PaneId(i as u8)),
        None => {
            let names: Vec<&str> = panes.iter().map(|p| p.name.as_str()).collect();
            err(format!(
                "{entry}: of= names `{name}`, which is not a pane (panes: {})",
                names.join(", ")
            ))
        }
    }
}

/// The first pane of `kind`, or a hidden default one added for it.
fn first_or_hidden(panes: &mut Vec<Pane>, kind: Kind) -> PaneId {
    if let Some(i) = panes.iter().position(|p| p.kind() == kind) {
        return PaneId(i as u8);
    }
    let retriever = match kind {
        Kind::Dense => Retriever::Dense(DenseKey::default()),
        Kind::Bm25 => Retriever::Bm25(None),
        Kind::Hybrid => {
            let of = vec![
                first_or_hidden(panes, Kind::Dense),
                first_or_hidden(panes, Kind::Bm25),
            ];
            Retriever::Fusion {
                of,
                opts: FusionOpts::default(),
            }
        }
        Kind::Rerank => unreachable!("nothing reads a rerank by default"),
    };
    panes.push(Pane {
        name: kind.name().to_owned(),
        title: kind.title().to_owned(),
        retriever,
        shown: false,
    });
    PaneId((panes.len() - 1) as u8)
}

fn default_inputs(panes: &mut Vec<Pane>, kind: Kind) -> Vec<PaneId> {
    match kind {
        Kind::Hybrid => vec![
            first_or_hidden(panes, Kind::Dense),
            first_or_hidden(panes, Kind::Bm25),
        ],
        _ => vec![first_or_hidden(panes, Kind::Hybrid)],
    }
}
