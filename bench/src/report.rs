//! A scenario's result: Markdown tables for BENCHMARKS.md, a JSON object, and the
//! failed checks.

use serde_json::{Map, Value};

pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = line(&self.header);
        out.push_str(&format!("|{}\n", "---|".repeat(self.header.len())));
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

pub struct Report {
    /// `1-sustained`, …
    pub id: String,
    pub title: String,
    /// What was run, e.g. "100,000 messages, 64 connections".
    pub scale: String,
    /// figure | value | vs loopback ceiling
    pub main: Table,
    pub extra: Vec<(String, Table)>,
    pub notes: Vec<String>,
    pub failures: Vec<String>,
    pub json: Map<String, Value>,
}

impl Report {
    pub fn new(id: &str, title: &str, scale: String) -> Report {
        Report {
            id: id.into(),
            title: title.into(),
            scale,
            main: Table::new(&["figure", "value", "vs loopback ceiling"]),
            extra: Vec::new(),
            notes: Vec::new(),
            failures: Vec::new(),
            json: Map::new(),
        }
    }

    /// A row of the main table.
    pub fn row(&mut self, figure: &str, value: String, vs: String) {
        self.main.row(vec![figure.into(), value, vs]);
    }

    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.json.insert(key.into(), value.into());
    }

    pub fn fail(&mut self, what: String) {
        eprintln!("[{}] FAILED: {what}", self.id);
        self.failures.push(what);
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n{}\n\n", self.title, self.scale);
        out.push_str(&self.main.markdown());
        for (caption, table) in &self.extra {
            out.push_str(&format!("\n{caption}\n\n"));
            out.push_str(&table.markdown());
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                out.push_str(&format!("- {n}\n"));
            }
        }
        out.push_str(&format!(
            "\nResult: {}\n",
            if self.failures.is_empty() {
                "**PASS** (nothing lost)".to_string()
            } else {
                format!("**FAIL** — {}", self.failures.join("; "))
            }
        ));
        out
    }

    pub fn to_json(&self) -> Value {
        let mut obj = self.json.clone();
        obj.insert("id".into(), self.id.clone().into());
        obj.insert("title".into(), self.title.clone().into());
        obj.insert("scale".into(), self.scale.clone().into());
        obj.insert("failures".into(), self.failures.clone().into());
        obj.insert("passed".into(), self.failures.is_empty().into());
        Value::Object(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_table() {
        let mut t = Table::new(&["a", "b"]);
        t.row(vec!["1".into(), "2".into()]);
        assert_eq!(t.markdown(), "| a | b |\n|---|---|\n| 1 | 2 |\n");
    }
}
